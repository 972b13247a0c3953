#!/usr/bin/env python3
"""A token service for the distribution registry's `auth: token` mode, for
tests/integration/registry.bats. Signs RS256 JWTs with openssl (no Python
crypto library needed), the certificate in the x5c header, as the registry's
rootcertbundle expects.

    token_fixture.py KEY CERT ISSUER SERVICE USER PASSWORD

Listens on 127.0.0.1 (a free port) and prints "ready PORT". Anonymous
clients get pull access only; USER with PASSWORD gets what it asks for;
wrong credentials get 401 {"details": "incorrect username or password"},
as Docker Hub answers.
"""
import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse
import uuid

KEY, CERT, ISSUER, SERVICE, USER, PASSWORD = sys.argv[1:7]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der():
    pem = open(CERT).read()
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    return body  # x5c holds standard base64 DER


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der()]}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input,
                         capture_output=True, check=True).stdout
    return signing_input.decode() + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            return self.answer(404, {"details": "not found"})
        q = urllib.parse.parse_qs(url.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if name != USER or pw != PASSWORD:
                return self.answer(401, {"details": "incorrect username or password"})
            user = name
        access = []
        for scope in q.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) != 3 or parts[0] != "repository":
                    continue
                actions = parts[2].split(",")
                if user is None:
                    actions = [a for a in actions if a == "pull"]
                access.append({"type": "repository", "name": parts[1], "actions": actions})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user or "", "aud": q.get("service", [SERVICE])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()),
                  "access": access}
        self.answer(200, {"token": sign(claims), "expires_in": 300})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("ready", server.server_address[1], flush=True)
server.serve_forever()
