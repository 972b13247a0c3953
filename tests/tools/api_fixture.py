#!/usr/bin/env python3
"""A tiny Docker-API-shaped HTTP/1.1 server on a unix socket, for the client
unit tests: ping with API-Version, JSON echo, errors, a chunked stream, a
chunked upload, and an attach-style upgrade. Usage: api_fixture.py SOCKET"""
import hashlib
import json
import os
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def route(self):
        body = self.read_body()
        path = self.path
        if path == "/_ping":
            self.send_response(200)
            self.send_header("API-Version", "1.43")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
        elif path.startswith("/v1.43/echo"):
            self.send_json(200, {"method": self.command, "path": path,
                                 "body": json.loads(body) if body else None,
                                 "content_type": self.headers.get("Content-Type"),
                                 "registry_auth": self.headers.get("X-Registry-Auth")})
        elif path.startswith("/v1.43/stream"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                chunk = f"line {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.1)
            self.wfile.write(b"0\r\n\r\n")
        elif path.startswith("/v1.43/upload"):
            self.send_json(200, {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                                 "content_type": self.headers.get("Content-Type")})
        elif path.startswith("/v1.43/attach"):
            if self.headers.get("Upgrade") != "tcp":
                self.send_json(400, {"message": "no upgrade"})
                return
            self.send_response(101, "UPGRADED")
            self.send_header("Content-Type", "application/vnd.docker.raw-stream")
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "tcp")
            self.end_headers()
            # One multiplexed stdout frame, then echo raw bytes until EOF.
            payload = b"hello"
            self.wfile.write(bytes([1, 0, 0, 0, 0, 0, 0, len(payload)]) + payload)
            self.wfile.flush()
            while True:
                data = self.connection.recv(4096)
                if not data:
                    break
                self.connection.sendall(data)
            self.close_connection = True
        else:
            self.send_json(404, {"message": f"page not found: {path}"})

    do_GET = do_POST = do_DELETE = do_HEAD = route


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    with Server(path, Handler) as srv:
        print("ready", flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
