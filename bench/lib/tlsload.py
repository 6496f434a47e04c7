#!/usr/bin/env python3
"""TLS client load for bench/run, standard library only.

Two modes, both speaking HTTP/1.1 over TLS to 127.0.0.1:PORT with many non-blocking
connections driven by one selector (one process, meant to be pinned to the client CPU):

  tlsload.py handshakes --port P --seconds S [--concurrency C]
      Each connection: full TLS handshake (no session resumption: every connection uses a
      fresh session), one GET with "Connection: close", read the response, close; repeat.
      Prints key=value figures: handshakes, seconds, rate, errors, non2xx, protocol.

  tlsload.py idle --port P --count N --hold S --pid PID [--pid PID ...]
      Opens N connections, sends one keep-alive GET on each and reads the response, so every
      connection sits in the proxy's keep-alive idle state; holds them S seconds. Reads the
      proxy's VmRSS (summed over the given PIDs) before opening and at the end of the hold.
      Prints key=value figures: open, rss_before_kib, rss_held_kib, kib_per_conn, errors, non2xx.

Exit status is non-zero when a response is not 2xx or connections fail, so the caller can
fail loudly instead of reporting a figure for a broken run.
"""
import argparse
import errno
import resource
import selectors
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"


def raise_fd_limit(wanted):
    """Idle mode needs one descriptor per connection; go as high as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def client_context():
    # The benchmark certificate is self-signed; skipping chain verification only saves client
    # CPU. The server still signs every full handshake (CertificateVerify), which is the cost
    # we want the proxy to pay. OpenSSL's default group order puts X25519 first.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def parse_response(buf, until_eof):
    """Returns (status, complete) for the bytes received so far."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, False
    head = buf[:end].decode("latin-1").split("\r\n")
    try:
        status = int(head[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        return 0, True
    if until_eof:
        return status, False  # complete only at EOF
    body = buf[end + 4:]
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            return status, len(body) >= int(value.strip())
        if name == "transfer-encoding" and "chunked" in value.lower():
            return status, body.endswith(b"0\r\n\r\n")
    return status, False


class Conn:
    """One client connection moving through connect -> handshake -> send -> read."""

    def __init__(self, load):
        self.load = load
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.tls = None
        self.buf = b""
        self.out = load.request
        self.state = "connect"
        err = self.sock.connect_ex((HOST, load.port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, "connect failed")
        load.sel.register(self.sock, selectors.EVENT_WRITE, self)

    def want(self, events):
        self.load.sel.modify(self.tls or self.sock, events, self)

    def step(self):
        """Advances as far as possible without blocking; returns False once finished."""
        try:
            if self.state == "connect":
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, "connect failed")
                self.load.sel.unregister(self.sock)
                self.tls = self.load.ctx.wrap_socket(
                    self.sock, do_handshake_on_connect=False, server_hostname="localhost")
                self.load.sel.register(self.tls, selectors.EVENT_WRITE, self)
                self.state = "handshake"
            if self.state == "handshake":
                self.tls.do_handshake()
                self.load.protocol = self.tls.version()
                self.state = "send"
            if self.state == "send":
                while self.out:
                    self.out = self.out[self.tls.send(self.out):]
                self.state = "read"
                self.want(selectors.EVENT_READ)
            if self.state == "read":
                while True:
                    chunk = self.tls.recv(65536)
                    if not chunk:  # EOF: only expected after a Connection: close response
                        status, _ = parse_response(self.buf, True)
                        return self.finish(status)
                    self.buf += chunk
                    status, complete = parse_response(self.buf, self.load.until_eof)
                    if complete:
                        return self.finish(status)
        except ssl.SSLWantReadError:
            self.want(selectors.EVENT_READ)
        except ssl.SSLWantWriteError:
            self.want(selectors.EVENT_WRITE)
        except (OSError, ssl.SSLError) as e:
            self.load.error(e)
            self.close()
            return False
        return True

    def finish(self, status):
        if status is None or not 200 <= status < 300:
            self.load.non2xx += 1
            self.load.bad_statuses[status] = self.load.bad_statuses.get(status, 0) + 1
        else:
            self.load.completed += 1
        if self.load.until_eof:
            self.close()
        else:
            self.state = "idle"  # stays registered for reading: EOF means the proxy closed it
        return False

    def close(self):
        try:
            self.load.sel.unregister(self.tls or self.sock)
        except (KeyError, ValueError):
            pass
        (self.tls or self.sock).close()
        self.state = "closed"


class Load:
    def __init__(self, port, until_eof):
        self.port = port
        self.until_eof = until_eof
        conn_header = "close" if until_eof else "keep-alive"
        self.request = ("GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: drawbridge-bench\r\n"
                        f"Connection: {conn_header}\r\n\r\n").encode()
        self.ctx = client_context()
        self.sel = selectors.DefaultSelector()
        self.completed = 0
        self.non2xx = 0
        self.bad_statuses = {}  # status -> count, for the error report
        self.errors = 0
        self.first_error = None
        self.protocol = None

    def report_problems(self):
        if self.first_error:
            print(f"first error: {self.first_error}", file=sys.stderr)
        if self.bad_statuses:
            shown = ", ".join(f"{k}: {v}" for k, v in sorted(self.bad_statuses.items(), key=str))
            print(f"non-2xx responses by status: {shown}", file=sys.stderr)

    def error(self, e):
        self.errors += 1
        if self.first_error is None:
            self.first_error = repr(e)

    def pump(self, timeout):
        """Runs one selector round; returns the connections that finished in it."""
        finished = []
        for key, _ in self.sel.select(timeout):
            conn = key.data
            if conn.state == "idle":
                conn.load.idle_event(conn)
                continue
            if not conn.step():
                finished.append(conn)
        return finished

    def idle_event(self, conn):
        # Readable while idle: either a late TLS record (ignored) or the proxy closing it.
        try:
            if conn.tls.recv(65536):
                return
        except ssl.SSLWantReadError:
            return
        except (OSError, ssl.SSLError):
            pass
        conn.close()


def run_handshakes(args):
    load = Load(args.port, until_eof=True)
    active = 0
    start = time.monotonic()
    deadline = start + args.seconds
    while True:
        now = time.monotonic()
        while now < deadline and active < args.concurrency:
            Conn(load)
            active += 1
        if active == 0:
            break
        if now > deadline + 10:
            # A response that never ends (say, a server ignoring "Connection: close") must not
            # hang the benchmark: what is still in flight counts as failed.
            load.errors += active
            load.first_error = load.first_error or f"{active} connections unfinished 10 s after the end"
            break
        active -= len(load.pump(0.5))
    elapsed = time.monotonic() - start
    print(f"handshakes={load.completed} seconds={elapsed:.2f} rate={load.completed / elapsed:.1f} "
          f"errors={load.errors} non2xx={load.non2xx} protocol={load.protocol}")
    load.report_problems()
    return 0 if load.errors == 0 and load.non2xx == 0 and load.completed > 0 else 1


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def run_idle(args):
    limit = raise_fd_limit(args.count + 256)
    if limit < args.count + 64:
        print(f"open-file limit {limit} is too low for {args.count} connections", file=sys.stderr)
        return 1
    load = Load(args.port, until_eof=False)
    rss_before = rss_kib(args.pid)
    conns, pending = [], 0
    deadline = time.monotonic() + args.setup_timeout
    # Bounded concurrency for the handshakes: a burst of thousands of SYNs would overflow the
    # proxies' accept backlogs and measure retransmission timers instead.
    while load.completed + load.non2xx + load.errors < args.count:
        while len(conns) < args.count and pending < args.in_flight:
            conns.append(Conn(load))
            pending += 1
        pending -= len(load.pump(0.5))
        if time.monotonic() > deadline:
            print("timed out opening connections", file=sys.stderr)
            break
    # Hold: keep serving selector events so a proxy closing connections is noticed.
    hold_end = time.monotonic() + args.hold
    while time.monotonic() < hold_end:
        load.pump(min(0.5, max(0.0, hold_end - time.monotonic())))
    rss_held = rss_kib(args.pid)
    still_open = sum(1 for c in conns if c.state == "idle")
    per_conn = (rss_held - rss_before) / still_open if still_open else float("nan")
    print(f"open={still_open} rss_before_kib={rss_before} rss_held_kib={rss_held} "
          f"kib_per_conn={per_conn:.2f} errors={load.errors} non2xx={load.non2xx} "
          f"protocol={load.protocol}")
    load.report_problems()
    for c in conns:
        if c.state != "closed":
            c.close()
    ok = load.errors == 0 and load.non2xx == 0 and still_open >= args.count * 0.99
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    h = sub.add_parser("handshakes")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--seconds", type=float, default=5)
    h.add_argument("--concurrency", type=int, default=32)
    i = sub.add_parser("idle")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--count", type=int, default=5000)
    i.add_argument("--hold", type=float, default=5)
    i.add_argument("--pid", type=int, action="append", required=True)
    i.add_argument("--in-flight", type=int, default=200)
    i.add_argument("--setup-timeout", type=float, default=60)
    args = p.parse_args()
    return run_handshakes(args) if args.mode == "handshakes" else run_idle(args)


if __name__ == "__main__":
    sys.exit(main())
