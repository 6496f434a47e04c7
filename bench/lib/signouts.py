#!/usr/bin/env python3
"""Sign-outs per second through a running gateway, standard library only (bench/signouts).

  signouts.py users FILE --password P --users N      writes users.json: N users of org "bench"
  signouts.py signin --port P --password P --users N --sessions S --out FILE
                                                      signs S sessions in (spread over the N users),
                                                      one cookie per line in FILE (not measured)
  signouts.py run --port P --sessions FILE --concurrency C

`run` signs every session of FILE out with C clients in parallel, each on its own keep-alive
connection, and prints key=value figures: signouts, seconds, rate, concurrency, errors. Every
sign-out must answer 200 (each is durable when it does); anything else is counted as an error
and makes the exit status non-zero. The sessions stay valid for the next run once the gateway
starts again on an empty sign-out list.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write_users(path, password, count):
    salt = os.urandom(16)
    iterations = 1000
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    pw_hash = f"$pbkdf2-sha256$i={iterations}${b64url(salt)}${b64url(dk)}"
    users = [{"id": f"u_{i:016x}", "email": f"user{i}@bench.test", "status": "active", "sessionEpoch": 0,
              "memberships": [{"org": "bench", "roles": ["member"], "groups": []}], "passwordHash": pw_hash}
             for i in range(count)]
    with open(path, "w") as f:
        json.dump({"version": 1, "users": users}, f)
    os.chmod(path, 0o600)


class Client:
    def __init__(self, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
        self.csrf = None

    def request(self, method, path, cookies, form=None):
        headers = {"Host": "localhost", "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        r.read()
        return r.status, r.getheader("Set-Cookie", ""), r.getheaders()

    def ensure_csrf(self):
        if self.csrf is None:
            _, _, headers = self.request("GET", "/.drawbridge/login", {})
            for k, v in headers:
                m = re.match(r"__Host-drawbridge-csrf=([^;]+)", v) if k.lower() == "set-cookie" else None
                if m:
                    self.csrf = m.group(1)
        return self.csrf

    def sign_in(self, email, password):
        csrf = self.ensure_csrf()
        status, _, headers = self.request("POST", "/.drawbridge/login/password", {"__Host-drawbridge-csrf": csrf},
                                          {"csrf": csrf, "rd": "", "email": email, "password": password})
        for k, v in headers:
            m = re.match(r"__Host-drawbridge=([^;]+)", v) if k.lower() == "set-cookie" else None
            if m:
                return m.group(1)
        raise RuntimeError(f"sign-in of {email} answered {status} without a session")

    def sign_out(self, session):
        csrf = self.ensure_csrf()
        status, _, _ = self.request("POST", "/.drawbridge/logout",
                                    {"__Host-drawbridge-csrf": csrf, "__Host-drawbridge": session}, {"csrf": csrf})
        return status


def in_parallel(count, work):
    errors = []

    def run(i):
        try:
            work(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def sign_in_all(args):
    sessions = [None] * args.sessions
    c = args.concurrency

    def sign_in(k):
        client = Client(args.port)
        for i in range(k, args.sessions, c):
            sessions[i] = client.sign_in(f"user{i % args.users}@bench.test", args.password)

    errors = in_parallel(c, sign_in)
    if errors:
        print(f"sign-in failed: {errors[0]}", file=sys.stderr)
        return 1
    with open(args.out, "w") as f:
        f.write("".join(s + "\n" for s in sessions))
    return 0


def run(args):
    sessions = [line.strip() for line in open(args.sessions) if line.strip()]
    c = args.concurrency
    clients = [Client(args.port) for _ in range(c)]
    for cl in clients:
        cl.ensure_csrf()
    statuses = [0] * len(sessions)

    def sign_out(k):
        for i in range(k, len(sessions), c):
            statuses[i] = clients[k].sign_out(sessions[i])

    start = time.monotonic()
    errors = in_parallel(c, sign_out)
    seconds = time.monotonic() - start
    bad = sum(1 for s in statuses if s != 200) + len(errors)
    print(f"signouts={len(sessions)} seconds={seconds:.3f} rate={len(sessions) / seconds:.1f} concurrency={c} errors={bad}")
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("users")
    u.add_argument("file")
    u.add_argument("--password", required=True)
    u.add_argument("--users", type=int, default=50)
    i = sub.add_parser("signin")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--password", required=True)
    i.add_argument("--users", type=int, default=50)
    i.add_argument("--sessions", type=int, default=600)
    i.add_argument("--concurrency", type=int, default=4)
    i.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--sessions", required=True)
    r.add_argument("--concurrency", type=int, default=8)
    args = p.parse_args()
    if args.cmd == "users":
        write_users(args.file, args.password, args.users)
        return 0
    if args.cmd == "signin":
        return sign_in_all(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
