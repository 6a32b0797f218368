"""Readers for tests/k8s/bench_k8s.py that timestamp what arrives, each in a thread of its own:
the consumer's stderr (quasard's log lines) and a plain watch stream. Times are
time.monotonic() taken right after the read that returned the bytes.
"""

import json
import os
import re
import socket
import threading
import time

EVENT = re.compile(r"event=view-event kind=(\S+) type=(\S+) namespace=(\S*) name=(\S+) rv=(\S+)")
SYNCED = re.compile(r"event=object-view-synced\b.*?\bobjects=(\d+)\b.*?\bms=([\d.]+)")


class Failure(Exception):
    """A step of the benchmark failed; the message says which and why."""


class ConsumerLog:
    """A process's stderr, read by a thread as it arrives (os.read, no buffering in between):
    every line goes to a log file; view events and the synced line are kept with the
    monotonic time they were read at."""

    def __init__(self, stream, log_path):
        self.fd, self.log = stream.fileno(), open(log_path, "wb")
        self.cond = threading.Condition()
        self.events, self.synced, self.ended = [], None, False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b""
        while True:
            data = os.read(self.fd, 65536)
            now = time.monotonic()
            if not data:
                break
            self.log.write(data)
            self.log.flush()
            buf += data
            *lines, buf = buf.split(b"\n")
            with self.cond:
                for line in lines:
                    text = line.decode(errors="replace")
                    m = EVENT.search(text)
                    if m:
                        self.events.append((now,) + m.groups())
                    elif self.synced is None:
                        m = SYNCED.search(text)
                        if m:
                            self.synced = (now, int(m.group(1)), float(m.group(2)))
                self.cond.notify_all()
        self.log.flush()
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait(self, pred, timeout, what):
        """Returns the first kept event (from any time) for which pred is true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    raise Failure("no %s within %.0f s (consumer %s); last events: %s" % (
                        what, timeout, "exited" if self.ended else "running", self.events[-5:]))
                self.cond.wait(left)


class WatchTimes:
    """Reads a watch response on an open HTTPSConnection: (name, resourceVersion) of every
    event -> when it was read."""

    def __init__(self, conn):
        self.conn, self.resp = conn, conn.getresponse()
        if self.resp.status != 200:
            raise Failure("watch: HTTP %d" % self.resp.status)
        self.seen, self.cond = {}, threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            try:
                data = self.resp.read1(65536)
            except Exception:  # noqa: BLE001 (close() shuts the socket down under it)
                return
            now = time.monotonic()
            if not data:
                return
            buf += data
            *lines, buf = buf.split(b"\n")
            with self.cond:
                for line in lines:
                    meta = json.loads(line)["object"]["metadata"]
                    self.seen[(meta["name"], meta["resourceVersion"])] = now
                self.cond.notify_all()

    def wait(self, name, rv, timeout):
        """When the event of name at rv was read; None if not within timeout seconds."""
        with self.cond:
            self.cond.wait_for(lambda: (name, rv) in self.seen, timeout)
            return self.seen.get((name, rv))

    def close(self):
        # Shut the socket down first: close() alone waits for the reader thread's read.
        try:
            socket.socket.shutdown(self.conn.sock, socket.SHUT_RDWR)
        except (OSError, TypeError):
            pass
        self.conn.close()
