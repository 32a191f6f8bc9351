"""Shared helpers for packmail's integration tests: start the real packmaild
on free loopback ports in a private temp dir, wait for readiness by polling
with a deadline (never fixed sleeps), and always kill the server at the end.
Standard library only."""

import argparse
import imaplib
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

LISTENERS = ("imap", "imaps", "pop3", "pop3s", "lmtp", "admin")
DEADLINE = 20.0  # seconds for anything that should take well under one


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--packmaild", required=True)
    p.add_argument("--packmailctl", required=True)
    return p.parse_args()


_handed_out = set()


def free_port():
    """A port that was free a moment ago (bound to 0, then released), and never
    one this process handed out before: the kernel may offer a just-released
    port again, and two listeners on one port make packmaild refuse to start."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for(condition, what, deadline=DEADLINE, interval=0.02):
    """condition()'s first true value, polled every interval seconds; fails
    after deadline seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def ok(response, what):
    """The data of an imaplib (typ, data) response, which must be OK."""
    typ, data = response
    check(typ == "OK", "%s: %s %r" % (what, typ, data))
    return data


class Server:
    """A packmaild process. Use as a context manager: it is killed on exit."""

    def __init__(self, binary, data_dir, extra=(), ports=None):
        self.binary = binary
        self.data_dir = data_dir
        self.ports = ports or {name: free_port() for name in LISTENERS}
        self.log_path = os.path.join(os.path.dirname(data_dir), "packmaild-%d.log" % id(self))
        self.args = [binary, "--data-dir", data_dir, "--log-level", "debug"]
        for name, port in self.ports.items():
            self.args += ["--" + name, "127.0.0.1:%d" % port]
        self.args += list(extra)
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("packmaild exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
            return "packmaild ready" in self.log_text() and all(
                can_connect(p) for p in self.ports.values())
        wait_for(ready, "packmaild to listen")
        return self

    def terminate(self, deadline=5.0):
        """SIGTERM; returns the exit code, which must come within deadline."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            raise AssertionError("packmaild did not exit within %.0f s of SIGTERM" % deadline)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if exc[0] is not None and self.proc:
            sys.stderr.write("--- packmaild log ---\n%s\n" % self.log_text())
        if getattr(self, "log", None):
            self.log.close()
        return False


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def read_until_close(sock, limit=65536):
    data = b""
    sock.settimeout(DEADLINE)
    while len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_line(sock):
    """One CRLF-terminated line (the greeting of a session that stays open)."""
    sock.settimeout(DEADLINE)
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def first_line(port, cafile=None, source="127.0.0.1"):
    """The greeting line on a new plain (or, with cafile, implicit-TLS) connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE,
                                  source_address=(source, 0)) as raw:
        if cafile is None:
            return read_line(raw)
        with tls_context(cafile).wrap_socket(raw, server_hostname="localhost") as s:
            return read_line(s)


def plain_greeting(port, source="127.0.0.1"):
    """Everything the server sends on a new plain connection from source
    until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE,
                                  source_address=(source, 0)) as s:
        return read_until_close(s)


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    return ctx


def http_get(port, path):
    """(status, parsed JSON body) of GET http://127.0.0.1:port/path."""
    url = "http://127.0.0.1:%d%s" % (port, path)
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def add_user(args, data_dir, name="alice", password="s3cret"):
    """Adds a user to data_dir's passwd-file with packmailctl."""
    subprocess.run([args.packmailctl, "user", "add", name, "--data-dir", data_dir,
                    "--password-stdin"], input=(password + "\n").encode(), check=True,
                   capture_output=True, timeout=DEADLINE)


# LMTP deliveries go to RCPT TO:<user@LMTP_DOMAIN>, as an MTA passes them.
LMTP_DOMAIN = "localhost"


def deliver_to_inbox(srv, raw, user="alice", rcpt=None):
    """Delivers raw by LMTP (RFC 2033) on srv's TCP listener to rcpt (default
    user@LMTP_DOMAIN), from outside any session under test; a refusal fails."""
    lmtp = smtplib.LMTP("127.0.0.1", srv.ports["lmtp"], timeout=DEADLINE)
    try:
        refused = lmtp.sendmail("sender@example.com", [rcpt or user + "@" + LMTP_DOMAIN], raw)
        check(not refused, "LMTP refused %r" % (refused,))
    finally:
        lmtp.quit()


def require_tool(command, package):
    """The path of command, or a failure naming the Debian package to install
    (scripts/install-deps.sh lists them): a missing client fails the test, it
    never skips it."""
    path = shutil.which(command)
    if path is None:
        raise AssertionError("%s not found: install the Debian package %s "
                             "(scripts/install-deps.sh)" % (command, package))
    return path


def build_dir(args):
    """The CMake build directory that holds packmaild (the nearest parent with a
    CMakeCache.txt), for caches kept between runs; None when there is none."""
    path = os.path.dirname(os.path.abspath(args.packmaild))
    while True:
        if os.path.exists(os.path.join(path, "CMakeCache.txt")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def run_tests(tests):
    """Runs each test(args, tmp) in its own temp dir; exit 1 if any failed."""
    args = parse_args()
    failed = 0
    for test in tests:
        with tempfile.TemporaryDirectory(prefix="packmail-it-") as tmp:
            start = time.monotonic()
            try:
                test(args, tmp)
                print("PASS %s (%.1f s)" % (test.__name__, time.monotonic() - start))
            except Exception:
                failed += 1
                print("FAIL %s" % test.__name__)
                traceback.print_exc()
            sys.stdout.flush()
    print("%d of %d failed" % (failed, len(tests)))
    sys.exit(1 if failed else 0)


# --- A server with users, and the messages in their mailboxes ---


def server_with_users(args, tmp, users=(("alice", "s3cret"),), config=None):
    """A Server (not started) over tmp/data with users [(name, password)] in
    its passwd-file and, when config is given, that TOML text as --config."""
    data = os.path.join(tmp, "data")
    os.makedirs(data, exist_ok=True)
    for name, password in users:
        add_user(args, data, name, password)
    extra = []
    if config is not None:
        path = os.path.join(tmp, "packmail.toml")
        with open(path, "w") as f:
            f.write(config)
        extra = ["--config", path]
    return Server(args.packmaild, data, extra=extra)


def header_lines(raw):
    """The header lines of a raw message (CRLF line ends), as stored."""
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def lmtp_socket_path(srv):
    """The LMTP unix socket packmaild opens by default (listen.lmtp_socket)."""
    return os.path.join(srv.data_dir, "lmtp.sock")


def imap_messages(srv, user="alice", password="s3cret", mailbox="INBOX"):
    """Every message of user's mailbox as [(uid, raw bytes)], by IMAP (UID
    FETCH 1:* BODY.PEEK[], which sets no flag)."""
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=DEADLINE)
    try:
        imap.login(user, password)
        typ, data = imap.select('"%s"' % mailbox, readonly=True)
        check(typ == "OK", "SELECT %s: %s %r" % (mailbox, typ, data))
        if int(data[0]) == 0:
            return []
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        check(typ == "OK", "UID FETCH: %s %r" % (typ, data))
        # imaplib gives (b'1 (UID 7 BODY[] {n}', message) then b')' (or
        # b' UID 7)' when the server sends UID after the literal).
        found = []
        for i, item in enumerate(data):
            if isinstance(item, tuple):
                after = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
                uid = re.search(rb"UID (\d+)", item[0] + b" " + after)
                check(uid is not None, "no UID in %r" % (item[0],))
                found.append((int(uid.group(1)), item[1]))
        return found
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


# --- A TCP relay between a client under test and a server ---


class Proxy:
    """Listens on a free loopback port and relays each connection to
    127.0.0.1:target. Subclasses shape the relay by overriding relay(); the
    default copies both ways unchanged. close() ends everything."""

    def __init__(self, target):
        self.target = target
        self.lock = threading.Lock()
        self.connections = 0
        self.stopping = False
        self.sockets = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += 1
                conn = self.connections
                self.sockets += [client, upstream]
            self.relay(client, upstream, conn)

    def relay(self, client, upstream, conn):
        """Starts the threads that carry connection number conn."""
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self.pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def pump(src, dst, transform=lambda data: data, on_end=lambda gone: None):
        """Copies src to dst (through transform) until either end goes away,
        calls on_end("source" or "sink": the end that went), then shuts both
        down."""
        gone = None
        while gone is None:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                gone = "source"
                break
            try:
                dst.sendall(transform(data))
            except OSError:
                gone = "sink"
        on_end(gone)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass
