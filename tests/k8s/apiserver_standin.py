#!/usr/bin/python3
"""A Kubernetes API server STAND-IN for quasar's tests (docs/k8s-standin.md).

Not a Kubernetes API server: an in-memory, single-process imitation that speaks the real wire
format (Kubernetes JSON, list/watch with bookmarks and 410 Gone, Status errors) over HTTPS, so
quasard's API client and the real kubectl can be tested where no cluster can run. Stdlib only.

usage: apiserver_standin.py --cert S.crt --key S.key --client-ca CA.crt [--token-file F]
                            [--port 0] [--bookmark-interval 1] [--history 200000] [--verbose]
Prints "listening https://127.0.0.1:PORT" on stdout once it accepts connections; exits on
SIGTERM/SIGINT or when the process that started it ends.
"""

import argparse
import http.server
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

import standin_handler
import standin_store


class StandinServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer whose TLS handshake runs in the connection's own thread, which
    tracks its connections (to drop them on command) and which can go down and come back."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, ctx, store, token_file, bookmark_interval, verbose):
        self.ctx, self.store, self.token_file = ctx, store, token_file
        self._tokens, self._tokens_id = set(), None
        self.tokens_lock = threading.Lock()
        self.bookmark_interval, self.verbose = bookmark_interval, verbose
        self.latency = 0.0
        self.hold_watches = False  # /standin/hold-watches
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.down_lock = threading.Lock()
        super().__init__(addr, standin_handler.Handler)

    def tokens(self):
        """The accepted bearer tokens: --token-file, read again whenever it changed (tests
        rotate it; kube-apiserver reads its token file once)."""
        if not self.token_file:
            return set()
        with self.tokens_lock:
            try:
                st = os.stat(self.token_file)
                file_id = (st.st_mtime_ns, st.st_size, st.st_ino)
                if file_id != self._tokens_id:
                    self._tokens, self._tokens_id = load_tokens(self.token_file), file_id
            except OSError:
                pass  # keep the last tokens while the file is being replaced
            return self._tokens

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name (getfqdn), which may hang.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        # The handler writes headers and body apart: with Nagle on, a client on a kept-alive
        # connection waits for its own delayed ACK (~40 ms) on every answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.conns_lock:
            self.conns.add(tls)
        return tls, addr

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)

    def abort_connections(self, keep=None):
        with self.conns_lock:
            conns = [c for c in self.conns if c is not keep]
        for c in conns:
            try:
                # The plain socket's shutdown: SSLSocket.shutdown would pull the TLS object out
                # from under the thread that is reading from it.
                socket.socket.shutdown(c, socket.SHUT_RDWR)
            except OSError:
                pass
        return len(conns)

    def serve_in_thread(self):
        t = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        t.start()

    def go_down(self, seconds, keep):
        """Closes the listening socket (connections are refused) and every open connection
        but keep, then listens again on the same port after seconds."""
        with self.down_lock:
            self.shutdown()
            self.socket.close()
            self.store.drop_watches()
            self.abort_connections(keep)
            time.sleep(seconds)
            self.socket = socket.socket(self.address_family, self.socket_type)
            self.server_bind()
            self.server_activate()
            self.serve_in_thread()


def load_tokens(path):
    if not path:
        return set()
    with open(path) as f:
        return {line.strip().split(",")[0] for line in f if line.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", required=True)
    ap.add_argument("--token-file", help="accepted bearer tokens, one a line (first CSV field)")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    ap.add_argument("--history", type=int, default=200000, help="watch events kept")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.client_ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    store = standin_store.Store(args.history)
    load_tokens(args.token_file)  # fails at start when it cannot be read
    server = StandinServer((args.bind, args.port), ctx, store, args.token_file,
                           args.bookmark_interval, args.verbose)
    server.serve_in_thread()
    print("listening https://%s:%d" % (args.bind, server.server_port), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    # Ends with the test that started it, also when that test is killed.
    while not stop.wait(0.5) and os.getppid() == parent:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
