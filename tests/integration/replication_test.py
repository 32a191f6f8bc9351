"""Replication between two real packmaild processes on loopback: a mirror
bootstraps while deliveries continue and ends with the primary's digests; in
sync mode, the primary is SIGKILLed at random moments under LMTP, APPEND and
STORE load, the mirror is promoted, and every delivery, APPEND and flag change
the clients were told succeeded is on it; the old primary rejoins as the new
mirror, and the roles swap again."""

import imaplib
import json
import os
import random
import re
import queue
import shutil
import smtplib
import socket
import subprocess
import threading
import time

from harness import (DEADLINE, Proxy, Server, add_user, can_connect, check, free_port,
                     run_tests, wait_for)

PASSWORD = "s3cret"
OFF = ["--imaps", "off", "--pop3", "off", "--pop3s", "off", "--lmtp-socket", "off"]


class Node:
    """One packmald data directory with fixed ports, started as primary or as
    the mirror of another node."""

    def __init__(self, args, tmp, name, secret_from=None):
        self.args = args
        self.name = name
        self.data = os.path.join(tmp, name)
        os.makedirs(self.data, exist_ok=True)
        add_user(args, self.data, "alice", PASSWORD)
        self.ports = {"imap": free_port(), "lmtp": free_port(), "admin": free_port()}
        self.repl_port = free_port()
        self.server = None

    def _start(self, extra):
        self.server = Server(self.args.packmaild, self.data, ports=self.ports,
                             extra=OFF + ["--replication", "127.0.0.1:%d" % self.repl_port] + extra)
        self.server.start()
        return self

    def start_primary(self, mode="sync"):
        self._start(["--replication-mode", mode])
        self.server.wait_ready()
        return self

    def start_mirror(self, primary, via=None):
        """Follows primary, through the port `via` (a proxy) if given."""
        shutil.copy(os.path.join(primary.data, "replication.secret"),
                    os.path.join(self.data, "replication.secret"))
        self._start(["--replicate-from", "127.0.0.1:%d" % (via or primary.repl_port)])
        wait_for(lambda: "packmaild mirror of" in self.server.log_text()
                 and can_connect(self.ports["admin"]), self.name + " to run as a mirror")
        return self

    def kill(self):
        self.server.proc.kill()
        self.server.proc.wait()
        self.server.log.close()

    def stop(self):
        if self.server and self.server.proc.poll() is None:
            self.server.terminate(deadline=15)
        if self.server:
            self.server.log.close()

    def ctl(self, *command):
        return subprocess.run([self.args.packmailctl, "--data-dir", self.data, "--admin",
                               "127.0.0.1:%d" % self.ports["admin"]] + list(command),
                              capture_output=True, timeout=120)

    def status(self):
        r = self.ctl("repl", "status", "--json")
        check(r.returncode == 0, "%s: repl status: %r" % (self.name, r.stderr))
        return json.loads(r.stdout)

    def imap(self):
        imap = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=DEADLINE)
        imap.login("alice", PASSWORD)
        return imap


class DelayProxy(Proxy):
    """Holds the target's bytes back for `delay` seconds (a mirror far away):
    a write the primary acknowledged before the mirror had it is then lost in
    a failover."""

    def __init__(self, target, delay):
        self.delay = delay
        super().__init__(target)

    def relay(self, client, upstream, conn):
        threading.Thread(target=self.pump, args=(client, upstream), daemon=True).start()
        chunks = queue.Queue()

        def receive():
            while True:
                try:
                    data = upstream.recv(65536)
                except OSError:
                    data = b""
                chunks.put((time.monotonic() + self.delay, data))
                if not data:
                    return

        def send():
            while True:
                due, data = chunks.get()
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    if not data:
                        raise OSError("closed")
                    client.sendall(data)
                except OSError:
                    for s in (client, upstream):
                        try:
                            s.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                    return

        threading.Thread(target=receive, daemon=True).start()
        threading.Thread(target=send, daemon=True).start()


def wait_in_sync(primary, mirror, deadline=60):
    def synced():
        s = primary.status()
        return any(m.get("in_sync") for m in s["mirrors"]) and s
    wait_for(synced, "%s to have %s in sync" % (primary.name, mirror.name), deadline=deadline)


def verify_equal(primary):
    r = primary.ctl("verify", "--json")
    check(r.returncode == 0, "verify on %s: exit %d %r %r" % (primary.name, r.returncode,
                                                               r.stdout, r.stderr))
    result = json.loads(r.stdout)
    check(result["equal"] and result["mailboxes"] >= 1, "digests differ: %r" % result)
    return result


def message(tag):
    return ("From: load@example.com\r\nTo: alice@example.com\r\nSubject: %s\r\n"
            "Message-ID: <%s@packmail.test>\r\n\r\nbody of %s\r\n%s\r\n" %
            (tag, tag, tag, "x" * random.randint(10, 2000))).encode()


class Load:
    """LMTP deliveries, IMAP APPENDs and STOREs against one node until
    stopped; records what the server acknowledged."""

    def __init__(self, node, round_no):
        self.node = node
        self.round = round_no
        self.stop = threading.Event()
        self.delivered = {}  # Message-ID tag -> raw bytes (LMTP 250)
        self.appended = {}   # (uidvalidity, uid) -> raw bytes (APPEND OK [APPENDUID])
        self.flagged = set()  # (uidvalidity, uid) with \Flagged acknowledged
        self.refused = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.lmtp, args=(i,)) for i in range(2)]
        self.threads.append(threading.Thread(target=self.appends))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        return False

    def lmtp(self, worker):
        n = 0
        while not self.stop.is_set():
            try:
                client = smtplib.LMTP("127.0.0.1", self.node.ports["lmtp"], timeout=10)
                try:
                    while not self.stop.is_set():
                        tag = "r%d-l%d-%d" % (self.round, worker, n)
                        n += 1
                        raw = message(tag)
                        try:
                            refused = client.sendmail("load@example.com", ["alice@localhost"], raw)
                        except smtplib.SMTPDataError:
                            with self.lock:
                                self.refused += 1
                            continue
                        if not refused:
                            with self.lock:
                                self.delivered[tag] = raw
                finally:
                    client.close()
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)

    def appends(self):
        n = 0
        while not self.stop.is_set():
            try:
                imap = self.node.imap()
                imap.select("INBOX")
                while not self.stop.is_set():
                    raw = message("r%d-a-%d" % (self.round, n))
                    n += 1
                    typ, data = imap.append("INBOX", None, None, raw)
                    if typ != "OK":
                        with self.lock:
                            self.refused += 1
                        continue
                    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
                    check(m is not None, "APPEND OK without APPENDUID: %r" % data)
                    key = (int(m.group(1)), int(m.group(2)))
                    with self.lock:
                        self.appended[key] = raw
                    if n % 3 == 0:
                        typ, data = imap.uid("STORE", str(key[1]), "+FLAGS.SILENT", r"(\Flagged)")
                        if typ == "OK":
                            with self.lock:
                                self.flagged.add(key)
            except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort):
                time.sleep(0.05)


def check_acknowledged(node, load):
    """Everything load was told succeeded is on node, with the same UID, flags
    and bytes."""
    imap = node.imap()
    try:
        typ, data = imap.status("INBOX", "(UIDVALIDITY)")
        check(typ == "OK", "STATUS: %r" % data)
        uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))
        typ, data = imap.select("INBOX", readonly=True)
        check(typ == "OK", "SELECT: %r" % data)
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        check(typ == "OK", "FETCH: %r" % data)
        stored = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, body = item
            uid = int(re.search(rb"UID (\d+)", head).group(1))
            flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1)
            stored[uid] = (body, flags)
    finally:
        imap.logout()
    by_id = {}
    for uid, (body, flags) in stored.items():
        m = re.search(rb"Message-ID: <([^@>]+)@packmail.test>", body)
        if m:
            by_id.setdefault(m.group(1).decode(), []).append(body)
    missing = [tag for tag in load.delivered if tag not in by_id]
    check(not missing, "%s lost %d acknowledged LMTP deliveries, e.g. %s" %
          (node.name, len(missing), missing[:3]))
    for tag, raw in load.delivered.items():
        check(any(b.endswith(raw) for b in by_id[tag]),
              "delivery %s has other bytes on %s" % (tag, node.name))
    for (validity, uid), raw in load.appended.items():
        check(validity == uidvalidity,
              "UIDVALIDITY changed: %d -> %s" % (validity, uidvalidity))
        check(uid in stored, "%s lost acknowledged APPEND UID %d" % (node.name, uid))
        check(stored[uid][0] == raw, "APPEND UID %d has other bytes on %s" % (uid, node.name))
        if (validity, uid) in load.flagged:
            check(rb"\Flagged" in stored[uid][1],
                  "UID %d lost its acknowledged \\Flagged on %s" % (uid, node.name))
    return len(load.delivered), len(load.appended), len(load.flagged)


def test_bootstrap_during_deliveries_then_digests_equal(args, tmp):
    primary = Node(args, tmp, "primary")
    mirror = Node(args, tmp, "mirror")
    try:
        # async: the primary takes mail before any mirror exists
        primary.start_primary(mode="async")
        with Load(primary, 0) as load:
            wait_for(lambda: len(load.delivered) >= 300, "300 deliveries", deadline=60)
            mirror.start_mirror(primary)
            wait_for(lambda: mirror.status()["state"] == "tailing", "the bootstrap", deadline=60)
            before = len(load.delivered) + len(load.appended)
            wait_for(lambda: len(load.delivered) + len(load.appended) > before + 100,
                     "deliveries after the bootstrap", deadline=60)
        s = mirror.status()
        check(s["bootstraps"] == 1, "bootstraps: %r" % s)
        check("bootstrap complete" in mirror.server.log_text(), "no bootstrap in the log")
        wait_for(lambda: mirror.status()["sequence"] == primary.status()["sequence"],
                 "the mirror to catch up")
        result = verify_equal(primary)
        print("  bootstrap under load: %d deliveries, %d appends; digests equal for %d "
              "mailboxes at sequence %d" % (len(load.delivered), len(load.appended),
                                           result["mailboxes"], result["sequence"]))
    finally:
        for n in (primary, mirror):
            if n.server and n.server.proc.poll() is None:
                n.server.proc.kill()


def test_sync_failover_under_load_loses_nothing(args, tmp):
    rounds = 8
    a = Node(args, tmp, "node-a")
    b = Node(args, tmp, "node-b")
    primary, mirror = a, b
    # The mirror sees the primary's stream 20 ms late, so that a sync mode
    # that answered before the mirror's acknowledgement would lose writes.
    proxy = {a: DelayProxy(a.repl_port, 0.02), b: DelayProxy(b.repl_port, 0.02)}
    try:
        primary.start_primary(mode="sync")
        mirror.start_mirror(primary, via=proxy[primary].port)
        wait_in_sync(primary, mirror)
        totals = [0, 0, 0]
        quarantined = 0
        for round_no in range(1, rounds + 1):
            with Load(primary, round_no) as load:
                wait_for(lambda: len(load.delivered) + len(load.appended) >= 20,
                         "acknowledged writes on %s" % primary.name, deadline=60)
                time.sleep(random.uniform(0.0, 1.5))
                primary.kill()  # SIGKILL at a random moment of the load
            r = mirror.ctl("promote")
            check(r.returncode == 0, "promote %s: %r %r" % (mirror.name, r.stdout, r.stderr))
            wait_for(lambda: "packmaild ready" in mirror.server.log_text()
                     and can_connect(mirror.ports["imap"]), mirror.name + " to serve as primary")
            counts = check_acknowledged(mirror, load)
            totals = [x + y for x, y in zip(totals, counts)]
            # The old primary rejoins as the mirror of the new one.
            primary, mirror = mirror, primary
            mirror.start_mirror(primary, via=proxy[primary].port)
            wait_in_sync(primary, mirror)
            if os.path.isdir(os.path.join(mirror.data, "replication", "quarantine")):
                quarantined = len(os.listdir(os.path.join(mirror.data, "replication",
                                                          "quarantine")))
            print("  round %d: %d deliveries, %d appends, %d flag changes acknowledged; all on "
                  "the promoted node" % ((round_no,) + counts))
        # The load continues on the last promoted node, replicated again.
        with Load(primary, rounds + 1) as load:
            wait_for(lambda: len(load.delivered) + len(load.appended) >= 20,
                     "writes after the last failover", deadline=60)
        check_acknowledged(primary, load)
        wait_for(lambda: mirror.status()["sequence"] == primary.status()["sequence"],
                 "the mirror to catch up")
        verify_equal(primary)
        for n in (a, b):
            for entry in os.listdir(os.path.join(n.data, "replication", "quarantine")) \
                    if os.path.isdir(os.path.join(n.data, "replication", "quarantine")) else []:
                readme = os.path.join(n.data, "replication", "quarantine", entry, "README.txt")
                check(os.path.exists(readme), "quarantine without README: " + entry)
        print("  %d failovers: %d deliveries, %d appends, %d flag changes acknowledged, none "
              "lost; %d diverged tails quarantined" % ((rounds,) + tuple(totals) +
                                                       (quarantined,)))
    finally:
        for n in (a, b):
            if n.server and n.server.proc.poll() is None:
                n.server.proc.kill()


if __name__ == "__main__":
    run_tests([test_bootstrap_during_deliveries_then_digests_equal,
               test_sync_failover_under_load_loses_nothing])
