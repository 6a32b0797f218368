#!/usr/bin/python3
"""vpc-sim: an emulated VPC, a TEST STAND-IN for Amazon EC2 (docs/vpc-sim.md).

Not EC2: one process that answers a subset of EC2's Query API (with EC2's XML, errors and
Signature Version 4 checks) and IMDSv2, enforces instance-type limits, injects throttling and
latency on command, and makes its changes real with network namespaces and veth pairs around a
"VPC router" namespace. Stdlib only. Needs root; never changes the root namespace.

usage: vpc_sim.py --config vpc.json --control /path/control.sock [--tls-cert C --tls-key K]
                  [--verbose]
The EC2 API listens on 0.0.0.0:<apiPort> and IMDS on 0.0.0.0:<imdsPort> inside the router
namespace; the control API (HTTP/JSON) on the unix socket. GET /healthz there answers once
everything is up. SIGTERM/SIGINT (or the end of the process that started it) removes everything
it made and exits.
"""

import argparse
import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

import vpc_config
import vpc_control
import vpc_ec2
import vpc_imds
import vpc_net
import vpc_state

VERBOSE = False


def log(msg):
    sys.stderr.write("%s vpc-sim: %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2"
    sys_version = ""

    def log_message(self, fmt, *args):
        if VERBOSE:
            log("http " + fmt % args)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def reply(self, status, text, content_type, extra=None):
        data = text.encode() if isinstance(text, str) else text
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the caller is gone (e.g. killed during a hold)


class ApiHandler(Handler):
    def serve(self):
        path, _, query = self.path.partition("?")
        status, xml = self.server.api.handle(self.command, path, query, self.headers.items(),
                                             self.body(), self.client_address[0])
        self.reply(status, xml, "text/xml;charset=UTF-8")

    do_GET = do_POST = do_PUT = do_DELETE = serve


class ImdsHandler(Handler):
    server_version = "EC2ws"

    def serve(self):
        self.body()
        status, text, extra = self.server.imds.handle(self.command, self.path.partition("?")[0],
                                                      self.headers.items(),
                                                      self.client_address[0])
        self.reply(status, text, "text/plain", extra)

    do_GET = do_HEAD = do_PUT = do_POST = serve


class ControlHandler(Handler):
    server_version = "vpc-sim"

    def address_string(self):
        return "control"

    def serve(self):
        raw = self.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
            status, obj = vpc_control.route(self.command, self.path, body, self.server.control,
                                            self.server.vpc, self.server.net)
        except (ValueError, KeyError, TypeError) as e:
            status, obj = 400, {"error": str(e)}
        except vpc_state.Ec2Error as e:
            status, obj = 500, {"error": e.message}
        self.reply(status, json.dumps(obj, indent=1, default=str), "application/json")

    do_GET = do_POST = do_DELETE = serve


class TcpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port, handler, tls=None, **attrs):
        self.tls = tls
        self.__dict__.update(attrs)
        super().__init__(("0.0.0.0", port), handler)

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name (getfqdn), which may hang.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            # The handshake happens on the connection's own thread, at its first read.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if VERBOSE:
            super().handle_error(request, client_address)


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path, handler, **attrs):
        self.__dict__.update(attrs)
        if os.path.exists(path):
            os.unlink(path)
        super().__init__(path, handler)


def serve(server):
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True)
    t.start()
    return t


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--config", required=True)
    ap.add_argument("--control", required=True, help="unix socket of the control API")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose
    try:
        cfg = vpc_config.load(args.config)
    except vpc_config.ConfigError as e:
        log("bad config: %s" % e)
        return 2

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    net = vpc_net.KernelNet(cfg, log)
    control = vpc_control.Control()
    vpc = None
    servers = []
    code = 0
    try:
        net.enter_router()
        vpc = vpc_state.Vpc(cfg, net)
        vpc.bootstrap()
        tls = None
        if args.tls_cert:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(args.tls_cert, args.tls_key)
        servers.append(TcpServer(cfg["apiPort"], ApiHandler, tls,
                                 api=vpc_ec2.Ec2Api(vpc, control, log)))
        servers.append(TcpServer(cfg["imdsPort"], ImdsHandler, imds=vpc_imds.Imds(vpc, control,
                                                                                   log)))
        servers.append(UnixServer(args.control, ControlHandler, control=control, vpc=vpc,
                                  net=net))
        for s in servers:
            serve(s)
        log("ready router=%s api=%s:%d imds=%s:%d control=%s" %
            (cfg["routerNetns"], "https" if tls else "http", cfg["apiPort"], cfg["imdsAddress"],
             cfg["imdsPort"], args.control))
        while not stop.wait(0.5) and os.getppid() == parent:
            pass
    except (vpc_state.Ec2Error, OSError, ssl.SSLError) as e:
        log("failed: %s" % e)
        code = 1
    finally:
        control.stop()
        for s in servers:
            s.shutdown()
            s.server_close()
        if vpc is not None:
            vpc.stop()
        net.teardown()
        if os.path.exists(args.control):
            os.unlink(args.control)
        log("stopped; removed what it made")
    return code


if __name__ == "__main__":
    sys.exit(main())
