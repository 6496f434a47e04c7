#!/usr/bin/python3
"""An OAuth 2.0 token endpoint for tests: the client credentials grant (RFC 6749 §4.4) as
Authlib implements it (Debian's python3-authlib, python3-flask), served over TLS on loopback.

    oauth2_token_server.py --port 0 --cert CERT --key KEY --secret SECRET [--expires-in N]

Prints "listening <port>" and serves:

  POST /token   grant_type=client_credentials; scope, audience optional.
                Clients: "gw-basic" (client_secret_basic only) and "gw-post" (client_secret_post
                only), both with the secret given by --secret. Authlib authenticates the client,
                checks the grant type and the auth method, and issues a bearer token.

Control endpoints for tests:

  GET  /control/log      [{"client_id", "auth_method", "scope", "audience", "issued_at",
                           "expires_in", "access_token"}, ...] one per token issued, and
                           {"error": ...} entries for refused requests
  POST /control/expires  {"seconds": n}: lifetime of the tokens issued from now on
"""

import argparse
import json
import sys
import threading
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from flask import Flask, jsonify, request
from werkzeug.serving import make_server


class Client(ClientMixin):
    def __init__(self, client_id, secret, method):
        self.client_id = client_id
        self.secret = secret
        self.method = method

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return client_secret == self.secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.method

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


class Grant(ClientCredentialsGrant):
    # Authlib's default is basic only; each test client allows exactly one method (above).
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--expires-in", type=int, default=3600)
    args = p.parse_args()

    clients = {
        "gw-basic": Client("gw-basic", args.secret, "client_secret_basic"),
        "gw-post": Client("gw-post", args.secret, "client_secret_post"),
    }
    lock = threading.Lock()
    log = []
    expires = {"seconds": args.expires_in}

    app = Flask(__name__)

    def save_token(token, req):
        with lock:
            log.append({
                "client_id": req.client.client_id,
                "auth_method": req.client.method,
                "scope": request.form.get("scope"),
                "audience": request.form.get("audience"),
                "issued_at": time.time(),
                "expires_in": token.get("expires_in"),
                "access_token": token["access_token"],
            })

    server = AuthorizationServer(app, query_client=lambda cid: clients.get(cid), save_token=save_token)
    server.register_grant(Grant)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {}

    def expires_in(client, grant_type):
        return expires["seconds"]

    from authlib.oauth2.rfc6750 import BearerTokenGenerator
    from authlib.common.security import generate_token
    server.register_token_generator("default", BearerTokenGenerator(
        access_token_generator=lambda *a, **k: generate_token(42), expires_generator=expires_in))

    @app.route("/token", methods=["POST"])
    def token():
        response = server.create_token_response()
        if response.status_code != 200:
            with lock:
                log.append({"error": response.get_data(as_text=True), "status": response.status_code,
                            "audience": request.form.get("audience")})
        return response

    @app.route("/control/log")
    def control_log():
        with lock:
            return jsonify(log)

    @app.route("/control/expires", methods=["POST"])
    def control_expires():
        expires["seconds"] = int(request.get_json(force=True)["seconds"])
        return jsonify({})

    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    httpd = make_server("127.0.0.1", args.port, app, threaded=True, ssl_context=ctx)
    print("listening %d" % httpd.server_port, flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
