#!/usr/bin/env python3
"""A loopback OpenID Connect issuer for tests (authorization code flow with PKCE).

Python 3 standard library only; keys are made and used with the `openssl` command line tool.

    oidc_issuer.py --port 0 --cert CERT --key KEY --state-dir DIR [--alg RS256|ES256] [--exit-on-stdin-eof]

Listens on 127.0.0.1 over TLS, prints "listening <port>" and serves, as issuer
https://127.0.0.1:<port>:

  GET  /.well-known/openid-configuration
  GET  /authorize      client_id=drawbridge-test, response_type=code, redirect_uri,
                       code_challenge + code_challenge_method=S256 (state, nonce, login_hint
                       optional); answers 302 to redirect_uri?code=...&state=...
  POST /token          client_secret_basic drawbridge-test / test-secret, one-time code,
                       redirect_uri must match, PKCE S256 checked
  GET  /jwks           an RS256 (2048-bit) and an ES256 key

Control endpoints for tests:

  POST /control/user   {"email", "email_verified", "hd", "sub", "alg": "RS256"|"ES256"|"none",
                        "extra_claims": {...} (null removes a claim), "kid": override}
                       = what the ID token of the next code says
  POST /control/rotate {"alg": "RS256"|"ES256"} or {} for both: new key, new kid, old kid dropped
  POST /control/discovery  {...} merged into the discovery document (null removes a member)
  POST /control/retire {"alg": ...}: new key under a new kid; the old key leaves /jwks but can
                       still sign (user "key": "retired"): a key the provider removed
  POST /control/rekey  {"alg": ...}: new key material under the SAME kid
  POST /control/cache  {"jwks": "<Cache-Control>", "discovery": "<Cache-Control>"} for those documents
                       (defaults: jwks "public, max-age=3600", discovery "public, max-age=3600")
  POST /control/fail   {"discovery": 500} answer that status instead of the document (0: normal)
  POST /control/hold   {"token": true|false} hold /token requests until released (false releases them)
  GET  /control/held   {"held": n} token requests being held now
  GET  /control/log    [{"method", "path"}, ...] of every request seen (control requests excluded)
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

CLIENT_ID = "drawbridge-test"
CLIENT_SECRET = "test-secret"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def openssl(*args, data=None) -> bytes:
    r = subprocess.run(["openssl", *args], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout


def der_read(buf: bytes, pos: int):
    """One DER TLV at pos: (tag, value, next position)."""
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    return tag, buf[pos:pos + length], pos + length


class Key:
    """An RS256 or ES256 signing key in a PEM file, with its public JWK."""

    def __init__(self, alg: str, state_dir: str):
        self.alg = alg
        self.kid = alg.lower() + "-" + secrets.token_hex(6)
        self.path = os.path.join(state_dir, self.kid + ".pem")
        if alg == "RS256":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.path)
            modulus = openssl("rsa", "-in", self.path, "-noout", "-modulus").decode().strip().split("=", 1)[1]
            text = openssl("rsa", "-in", self.path, "-noout", "-text").decode()
            exponent = 65537
            for line in text.splitlines():
                if line.startswith("publicExponent:"):
                    exponent = int(line.split()[1])
            e_bytes = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
            self.jwk = {"kty": "RSA", "n": b64url(bytes.fromhex(modulus)), "e": b64url(e_bytes)}
        else:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.path)
            der = openssl("pkey", "-in", self.path, "-pubout", "-outform", "DER")
            point = der[-65:]
            assert point[0] == 4
            self.jwk = {"kty": "EC", "crv": "P-256", "x": b64url(point[1:33]), "y": b64url(point[33:65])}
        self.jwk.update({"kid": self.kid, "use": "sig", "alg": alg})

    def sign(self, message: bytes) -> bytes:
        sig = openssl("dgst", "-sha256", "-sign", self.path, data=message)
        if self.alg == "RS256":
            return sig
        # DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) to JOSE's raw r || s.
        tag, seq, _ = der_read(sig, 0)
        assert tag == 0x30
        _, r, p = der_read(seq, 0)
        _, s, _ = der_read(seq, p)
        return int.from_bytes(r, "big").to_bytes(32, "big") + int.from_bytes(s, "big").to_bytes(32, "big")


class Issuer:
    def __init__(self, state_dir: str, default_alg: str):
        self.lock = threading.Lock()
        self.state_dir = state_dir
        self.keys = {"RS256": Key("RS256", state_dir), "ES256": Key("ES256", state_dir)}
        self.issuer = ""
        self.user = {"sub": "user-1", "email": "alice@example.com", "email_verified": True, "alg": default_alg}
        self.default_alg = default_alg
        self.codes = {}
        self.log = []
        self.discovery_overrides = {}
        self.retired = {}
        self.cache = {"jwks": "public, max-age=3600", "discovery": "public, max-age=3600"}
        self.fail_discovery = 0
        self.hold = threading.Event()
        self.hold.set()
        self.held = 0

    def discovery(self) -> dict:
        doc = {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }
        for k, v in self.discovery_overrides.items():
            if v is None:
                doc.pop(k, None)
            else:
                doc[k] = v
        return doc

    def id_token(self, grant: dict) -> str:
        user = grant["user"]
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": user.get("sub", "user-1"), "aud": CLIENT_ID, "iat": now, "exp": now + 3600}
        if grant.get("nonce") is not None:
            claims["nonce"] = grant["nonce"]
        for k in ("email", "email_verified", "hd"):
            if user.get(k) is not None:
                claims[k] = user[k]
        for k, v in (user.get("extra_claims") or {}).items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        alg = user.get("alg") or self.default_alg
        if alg == "none":
            header = {"alg": "none", "typ": "JWT"}
            signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            return signing_input + "."
        key = self.retired[alg] if user.get("key") == "retired" else self.keys[alg]
        header = {"alg": alg, "typ": "JWT"}
        if user.get("kid") != "":
            header["kid"] = user.get("kid") or key.kid
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "oidc-issuer"
    issuer: Issuer = None

    def log_message(self, format, *args):  # quiet
        pass

    def send_json(self, status: int, obj, extra_headers=(), cache="no-store"):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("Connection", "close")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def error(self, status: int, code: str, description: str, extra_headers=()):
        self.send_json(status, {"error": code, "error_description": description}, extra_headers)

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def record(self, path: str):
        if not path.startswith("/control/"):
            with self.issuer.lock:
                self.issuer.log.append({"method": self.command, "path": path})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        self.record(url.path)
        iss = self.issuer
        if url.path == "/.well-known/openid-configuration":
            with iss.lock:
                doc = iss.discovery()
                status = iss.fail_discovery
                cache = iss.cache["discovery"]
            if status:
                self.error(status, "server_error", "discovery failing on purpose")
                return
            self.send_json(200, doc, cache=cache)
        elif url.path == "/jwks":
            with iss.lock:
                keys = [k.jwk for k in iss.keys.values()]
                cache = iss.cache["jwks"]
            self.send_json(200, {"keys": keys}, cache=cache)
        elif url.path == "/control/held":
            with iss.lock:
                held = iss.held
            self.send_json(200, {"held": held})
        elif url.path == "/authorize":
            self.authorize(urllib.parse.parse_qs(url.query, keep_blank_values=True))
        elif url.path == "/control/log":
            with iss.lock:
                log = list(iss.log)
            self.send_json(200, log)
        else:
            self.error(404, "not_found", "no such endpoint")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        self.record(url.path)
        iss = self.issuer
        if url.path == "/token":
            if not iss.hold.is_set():
                with iss.lock:
                    iss.held += 1
                iss.hold.wait(120)
                with iss.lock:
                    iss.held -= 1
            self.token()
            return
        try:
            payload = json.loads(self.body() or b"{}")
        except ValueError:
            self.error(400, "invalid_request", "body is not JSON")
            return
        if url.path == "/control/user":
            with iss.lock:
                iss.user = payload
            self.send_json(200, {"ok": True})
        elif url.path == "/control/rotate":
            algs = [payload["alg"]] if payload.get("alg") else ["RS256", "ES256"]
            new = {alg: Key(alg, iss.state_dir) for alg in algs}
            with iss.lock:
                iss.keys.update(new)
                kids = {alg: k.kid for alg, k in iss.keys.items()}
            self.send_json(200, {"kids": kids})
        elif url.path == "/control/discovery":
            with iss.lock:
                iss.discovery_overrides = payload
            self.send_json(200, {"ok": True})
        elif url.path == "/control/retire":
            alg = payload.get("alg", "RS256")
            new = Key(alg, iss.state_dir)
            with iss.lock:
                iss.retired[alg] = iss.keys[alg]
                iss.keys[alg] = new
            self.send_json(200, {"kid": new.kid})
        elif url.path == "/control/rekey":
            alg = payload.get("alg", "RS256")
            new = Key(alg, iss.state_dir)
            with iss.lock:
                new.kid = iss.keys[alg].kid
                new.jwk["kid"] = new.kid
                iss.keys[alg] = new
            self.send_json(200, {"kid": new.kid})
        elif url.path == "/control/cache":
            with iss.lock:
                iss.cache.update(payload)
            self.send_json(200, {"ok": True})
        elif url.path == "/control/fail":
            with iss.lock:
                iss.fail_discovery = int(payload.get("discovery", 0))
            self.send_json(200, {"ok": True})
        elif url.path == "/control/hold":
            if payload.get("token"):
                iss.hold.clear()
            else:
                iss.hold.set()
            self.send_json(200, {"ok": True})
        else:
            self.error(404, "not_found", "no such endpoint")

    def authorize(self, q):
        def one(name):
            v = q.get(name)
            return v[0] if v and len(v) == 1 else None

        if one("client_id") != CLIENT_ID:
            self.error(400, "unauthorized_client", "unknown client_id")
            return
        redirect_uri = one("redirect_uri")
        if not redirect_uri:
            self.error(400, "invalid_request", "redirect_uri missing")
            return
        if one("response_type") != "code":
            self.error(400, "unsupported_response_type", "response_type must be code")
            return
        if one("code_challenge_method") != "S256" or not one("code_challenge"):
            self.error(400, "invalid_request", "PKCE S256 required")
            return
        code = secrets.token_urlsafe(24)
        iss = self.issuer
        with iss.lock:
            iss.codes[code] = {
                "state": one("state"), "nonce": one("nonce"), "challenge": one("code_challenge"),
                "redirect_uri": redirect_uri, "user": dict(iss.user), "used": False,
                "login_hint": one("login_hint"), "hd": one("hd"), "scope": one("scope"),
            }
        params = {"code": code}
        if one("state") is not None:
            params["state"] = one("state")
        location = redirect_uri + ("&" if "?" in redirect_uri else "?") + urllib.parse.urlencode(params)
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def token(self):
        auth = self.headers.get("Authorization") or ""
        ok = False
        if auth[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
                cid, _, secret = decoded.partition(":")
                ok = urllib.parse.unquote_plus(cid) == CLIENT_ID and urllib.parse.unquote_plus(secret) == CLIENT_SECRET
            except ValueError:
                ok = False
        if not ok:
            self.error(401, "invalid_client", "client authentication failed",
                       [("WWW-Authenticate", 'Basic realm="oidc-issuer"')])
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self.error(400, "invalid_request", "form body required")
            return
        form = urllib.parse.parse_qs(self.body().decode(), keep_blank_values=True)

        def one(name):
            v = form.get(name)
            return v[0] if v and len(v) == 1 else None

        if one("grant_type") != "authorization_code":
            self.error(400, "unsupported_grant_type", "authorization_code only")
            return
        iss = self.issuer
        with iss.lock:
            grant = iss.codes.get(one("code") or "")
            if grant is None or grant["used"]:
                grant = None
            else:
                grant["used"] = True
        if grant is None:
            self.error(400, "invalid_grant", "unknown or used code")
            return
        if one("redirect_uri") != grant["redirect_uri"]:
            self.error(400, "invalid_grant", "redirect_uri mismatch")
            return
        verifier = one("code_verifier") or ""
        if b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest()) != grant["challenge"]:
            self.error(400, "invalid_grant", "PKCE verification failed")
            return
        with iss.lock:
            token = iss.id_token(grant)
        self.send_json(200, {"access_token": "x", "token_type": "Bearer", "expires_in": 3600, "id_token": token})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--alg", choices=["RS256", "ES256"], default="RS256")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="exit when stdin closes (the test process that started us has gone)")
    args = ap.parse_args()
    # A test runner may start us with SIGTERM/SIGINT blocked (the mask survives exec): unblock them.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.exit_on_stdin_eof:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    os.makedirs(args.state_dir, exist_ok=True)

    issuer = Issuer(args.state_dir, args.alg)
    Handler.issuer = issuer
    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # failed handshakes (wrong-CA tests) are expected
            print("request from %s failed: %s" % (client_address, sys.exc_info()[1]), file=sys.stderr, flush=True)

    server = Server(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    # The handshake runs in the handler thread (first read), so a failing client cannot stall accept().
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    port = server.server_address[1]
    issuer.issuer = "https://127.0.0.1:%d" % port
    print("listening %d" % port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
