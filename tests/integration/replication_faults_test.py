"""Replication under faults, between real packmaild processes on loopback: a
proxy that flips one byte of a bootstrap file chunk and of a WAL batch (the
mirror must notice each by the frame checksum, drop the connection, never
apply the damaged bytes, and end with the primary's digests); a mirror that
fell behind the primary's WAL retention (the archived WAL it needs was purged)
bootstraps again by itself; a mirror with the wrong shared secret gets
nothing."""

import json
import os
import re
import shutil
import smtplib
import struct
import subprocess
import threading
import time

from harness import (DEADLINE, LMTP_DOMAIN, Proxy, Server, add_user, can_connect, check,
                     free_port, run_tests, server_with_users, wait_for)

OFF = ["--imaps", "off", "--pop3", "off", "--pop3s", "off", "--lmtp-socket", "off"]
MISMATCH = "frame checksum mismatch (corrupted in transit)"
# Frame types (replication/wire.h).
FILE_DATA, BATCH, ACK = 7, 10, 12
HEADER = 13  # u32 length, u8 type, u32 payload crc32c, u32 header crc32c


# --- processes ---


def start_primary(args, tmp, mode="async", config=None):
    """A primary (started, ready) with alice; returns (server, replication port,
    extra args) so that it can be restarted on the same data and ports."""
    srv = server_with_users(args, tmp, config=config)
    repl_port = free_port()
    extra = []
    if "--config" in srv.args:  # server_with_users wrote config to a file
        i = srv.args.index("--config")
        extra = srv.args[i:i + 2]
    extra += OFF + ["--replication", "127.0.0.1:%d" % repl_port, "--replication-mode", mode]
    srv = Server(args.packmaild, srv.data_dir, extra=extra,
                 ports={"imap": free_port(), "lmtp": free_port(), "admin": free_port()})
    srv.start().wait_ready()
    return srv, repl_port, extra


def restart(srv, extra):
    """Stops srv cleanly (SIGTERM: the store flushes) and starts a new packmaild
    on the same data dir and ports."""
    code = srv.terminate(deadline=15)
    check(code == 0, "packmaild exited with %s on SIGTERM:\n%s" % (code, srv.log_text()))
    srv.log.close()
    new = Server(srv.binary, srv.data_dir, extra=extra, ports=srv.ports)
    new.start().wait_ready()
    return new


def mirror_server(args, tmp, source_port, secret_from=None, secret=None, admin_port=None):
    """A mirror (not started) of 127.0.0.1:source_port in tmp/mirror, with the
    primary's secret (copied from secret_from's data dir) or the given one."""
    data = os.path.join(tmp, "mirror")
    os.makedirs(data, exist_ok=True)
    if not os.path.exists(os.path.join(data, "users")):
        add_user(args, data)
    path = os.path.join(data, "replication.secret")
    if secret_from is not None:
        shutil.copy(os.path.join(secret_from.data_dir, "replication.secret"), path)
    else:
        with open(path, "w") as f:
            f.write(secret + "\n")
    return Server(args.packmaild, data, ports={"admin": admin_port or free_port()},
                  extra=["--replicate-from", "127.0.0.1:%d" % source_port])


def start_mirror(srv):
    srv.start()

    def running():
        if srv.proc.poll() is not None:
            raise AssertionError("mirror exited with %s:\n%s" % (srv.proc.returncode,
                                                                 srv.log_text()))
        return "packmaild mirror of" in srv.log_text() and can_connect(srv.ports["admin"])
    wait_for(running, "packmaild to run as a mirror")
    return srv


def kill_all(servers):
    for s in servers:
        if s.proc and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def ctl(args, srv, *command):
    return subprocess.run([args.packmailctl, "--data-dir", srv.data_dir, "--admin",
                           "127.0.0.1:%d" % srv.ports["admin"]] + list(command),
                          capture_output=True, timeout=60)


def status(args, srv):
    r = ctl(args, srv, "repl", "status", "--json")
    check(r.returncode == 0, "repl status: exit %d %r" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def wait_caught_up(args, primary, mirror, deadline=40):
    """The mirror tailing at the primary's sequence (nothing being delivered)."""
    def caught_up():
        m = status(args, mirror)
        p = status(args, primary)
        return m["state"] == "tailing" and m["sequence"] == p["sequence"] and (m, p)
    return wait_for(caught_up, "the mirror to reach the primary's sequence", deadline=deadline,
                    interval=0.1)


def verify_equal(args, primary):
    r = ctl(args, primary, "verify", "--json")
    check(r.returncode == 0, "verify: exit %d %r %r" % (r.returncode, r.stdout, r.stderr))
    result = json.loads(r.stdout)
    check(result["equal"] is True and result["mailboxes"] >= 1 and not result["differences"],
          "digests differ: %r" % result)
    return result


def deliver(srv, count, tag):
    """count messages (1-3 KB each) to alice over one LMTP session."""
    lmtp = smtplib.LMTP("127.0.0.1", srv.ports["lmtp"], timeout=DEADLINE)
    try:
        for i in range(count):
            raw = ("From: faults@example.com\r\nTo: alice@example.com\r\nSubject: %s %d\r\n"
                   "Message-ID: <%s-%d@packmail.test>\r\n\r\n%s\r\n" %
                   (tag, i, tag, i, ("%s-%d " % (tag, i)) * (100 + 13 * (i % 17)))).encode()
            refused = lmtp.sendmail("faults@example.com", ["alice@" + LMTP_DOMAIN], raw)
            check(not refused, "LMTP refused %r" % (refused,))
    finally:
        lmtp.quit()


# --- a TCP proxy that understands the frame layout ---


class FrameStream:
    """Forwards one direction of a replication connection frame by frame as
    the bytes come; corrupt(kind, length) may return a payload offset whose
    byte is flipped; on_frame(kind, length, prefix) sees each complete frame
    (prefix: its first 16 payload bytes, as sent)."""

    def __init__(self, corrupt=None, on_frame=None):
        self.corrupt = corrupt or (lambda kind, length: None)
        self.on_frame = on_frame or (lambda kind, length, prefix: None)
        self.header = b""
        self.remaining = None  # payload bytes left in the current frame
        self.kind = self.length = self.pos = self.flip = None
        self.prefix = b""

    def feed(self, data):
        out = bytearray()
        while data:
            if self.remaining is None:
                take = HEADER - len(self.header)
                self.header += data[:take]
                out += data[:take]
                data = data[take:]
                if len(self.header) == HEADER:
                    self.length, self.kind = struct.unpack(">IB", self.header[:5])
                    self.remaining, self.pos, self.prefix = self.length, 0, b""
                    self.flip = self.corrupt(self.kind, self.length)
                    self.header = b""
            else:
                chunk = bytearray(data[:self.remaining])
                data = data[len(chunk):]
                if len(self.prefix) < 16:
                    self.prefix += bytes(chunk[:16 - len(self.prefix)])
                if self.flip is not None and self.pos <= self.flip < self.pos + len(chunk):
                    chunk[self.flip - self.pos] ^= 0x20
                self.pos += len(chunk)
                self.remaining -= len(chunk)
                out += chunk
            if self.remaining == 0:
                self.on_frame(self.kind, self.length, self.prefix)
                self.remaining = None
        return bytes(out)


class CorruptingProxy(Proxy):
    """Relays mirror connections to the primary's replication port.
    Primary->mirror: flips one payload byte of the first FILE_DATA frame of at
    least 4 KB, and of the 3rd BATCH frame; each once, whatever the
    connection. Records per connection the frames seen and the mirror's ACKs."""

    def __init__(self, upstream):
        self.batches = 0
        self.damaged = {}  # "file_data"/"batch" -> {"conn": n, "first_seq": s}
        self.acks = {}  # conn -> [acknowledged sequence, ...]
        self.closed_first = {}  # conn -> "mirror" or "primary": the end that went away
        super().__init__(upstream)

    def relay(self, mirror, primary, conn):
        down = FrameStream(corrupt=lambda kind, length: self._corrupt(conn, kind, length),
                           on_frame=lambda kind, length, prefix: self._down_frame(conn, kind,
                                                                                  prefix))
        up = FrameStream(on_frame=lambda kind, length, prefix: self._up_frame(conn, kind, prefix))
        for src, dst, stream, names in ((primary, mirror, down, ("primary", "mirror")),
                                        (mirror, primary, up, ("mirror", "primary"))):
            threading.Thread(target=self._pump, daemon=True,
                             args=(src, dst, stream, conn, names)).start()

    def _corrupt(self, conn, kind, length):
        with self.lock:
            if kind == FILE_DATA and length >= 4096 and "file_data" not in self.damaged:
                # u32 index, u64 offset, then file bytes: flip one in the middle
                self.damaged["file_data"] = {"conn": conn}
                return 12 + (length - 12) // 2
            if kind == BATCH:
                self.batches += 1
                if self.batches == 3 and "batch" not in self.damaged:
                    # u64 first sequence, then the WriteBatch: flip inside it
                    self.damaged["batch"] = {"conn": conn}
                    return 8 + (length - 8) // 2
        return None

    def _down_frame(self, conn, kind, prefix):
        with self.lock:
            d = self.damaged.get("batch")
            if kind == BATCH and d and d["conn"] == conn and "first_seq" not in d:
                d["first_seq"] = struct.unpack(">Q", prefix[:8])[0]

    def _up_frame(self, conn, kind, prefix):
        if kind == ACK:
            with self.lock:
                self.acks.setdefault(conn, []).append(struct.unpack(">Q", prefix[:8])[0])

    def _pump(self, src, dst, stream, conn, names):
        """The first pump to see its connection end records which end it was
        (the other pump only sees the shutdown that follows)."""
        def ended(gone):
            with self.lock:
                self.closed_first.setdefault(conn, names[0] if gone == "source" else names[1])
        self.pump(src, dst, stream.feed, ended)

    def closed_by_mirror(self, conn):
        with self.lock:
            return self.closed_first.get(conn) == "mirror"

    def damaged_on(self, what):
        with self.lock:
            return dict(self.damaged[what]) if what in self.damaged else None


# --- tests ---


def test_corrupted_frames_are_detected_and_retried(args, tmp):
    servers = []
    proxy = None
    try:
        primary, repl_port, _ = start_primary(args, tmp, mode="async")
        servers.append(primary)
        deliver(primary, 200, "before")
        proxy = CorruptingProxy(repl_port)
        mirror = start_mirror(mirror_server(args, tmp, proxy.port, secret_from=primary))
        servers.append(mirror)

        # 1. A flipped byte in a bootstrap file chunk: the mirror drops that
        # connection and bootstraps again.
        wait_for(lambda: proxy.damaged_on("file_data"), "a bootstrap file chunk to pass")
        wait_for(lambda: MISMATCH in mirror.log_text(), "the mirror to notice the damaged chunk")
        boot_conn = proxy.damaged_on("file_data")["conn"]
        wait_for(lambda: proxy.closed_by_mirror(boot_conn),
                 "the mirror to close the connection with the damaged chunk")
        wait_for(lambda: status(args, mirror)["state"] == "tailing", "the bootstrap",
                 deadline=40, interval=0.1)
        check("bootstrap complete" in mirror.log_text(), "no completed bootstrap in the log")

        # 2. A flipped byte in a WAL batch while tailing: the mirror drops that
        # connection, never applies the batch, and follows again from before it.
        n = 0
        while not proxy.damaged_on("batch"):
            check(n < 200, "fewer than 3 batches reached the mirror after %d deliveries" % n)
            deliver(primary, 5, "tail%d" % n)
            n += 5
        wait_for(lambda: "first_seq" in proxy.damaged_on("batch"), "the damaged batch to pass")
        damaged = proxy.damaged_on("batch")
        check(damaged["conn"] != boot_conn, "both damages on one connection: %r" % damaged)
        wait_for(lambda: proxy.closed_by_mirror(damaged["conn"]),
                 "the mirror to close the connection with the damaged batch")
        with proxy.lock:
            acked = list(proxy.acks.get(damaged["conn"], []))
        check(acked and max(acked) < damaged["first_seq"],
              "on the connection with the damaged batch (sequence %d) the mirror acknowledged "
              "%r" % (damaged["first_seq"], acked))
        deliver(primary, 50, "after")

        m, p = wait_caught_up(args, primary, mirror)
        check(m["bootstraps"] == 1, "a damaged batch must not cost a bootstrap: %r" % m)
        with proxy.lock:
            later = [c for c in proxy.acks if c > damaged["conn"]]
            resumed = [a for c in later for a in proxy.acks[c]]
        check(resumed and max(resumed) >= damaged["first_seq"],
              "the damaged batch was never applied after a reconnection: acks %r" % resumed)
        result = verify_equal(args, primary)
        # Each damaged connection is a warning in the log, the second one too
        # although its text repeats the first's.
        log = mirror.log_text()
        check(log.count(MISMATCH) >= 2,
              "the mirror logged %d checksum mismatch warning(s) for 2 damaged connections "
              "(%d and %d); its replication log:\n%s" %
              (log.count(MISMATCH), boot_conn, damaged["conn"],
               "\n".join(l for l in log.splitlines() if "replication" in l)))
        print("  damaged chunk on connection %d, damaged batch (sequence %d) on connection %d; "
              "%d connections; digests equal for %d mailboxes at sequence %d" %
              (boot_conn, damaged["first_seq"], damaged["conn"], proxy.connections,
               result["mailboxes"], result["sequence"]))
    finally:
        kill_all(servers)
        if proxy:
            proxy.close()


class NthChunkProxy(CorruptingProxy):
    """Damages the n-th FILE_DATA frame of the first bootstrap only."""

    def __init__(self, upstream, n):
        self.n = n
        self.chunks = 0
        super().__init__(upstream)

    def _corrupt(self, conn, kind, length):
        with self.lock:
            if kind == FILE_DATA and "file_data" not in self.damaged:
                self.chunks += 1
                if self.chunks == self.n:
                    self.damaged["file_data"] = {"conn": conn}
                    return length - 1
        return None


def test_interrupted_bootstrap_resumes_file_by_file(args, tmp):
    servers = []
    proxy = None
    try:
        primary, repl_port, extra = start_primary(args, tmp, mode="async")
        servers.append(primary)
        deliver(primary, 150, "one")
        primary = restart(primary, extra)  # flushes: SST files for every column family
        servers.append(primary)
        deliver(primary, 150, "two")
        primary = restart(primary, extra)
        servers.append(primary)
        files = sorted(os.listdir(os.path.join(primary.data_dir, "shards", "default")))
        ssts = [f for f in files if f.endswith(".sst")]
        check(len(ssts) >= 8, "expected several SST files, found %r" % files)
        # The checkpoint lists files by name, SST files first: damage a chunk
        # after several of them are complete.
        proxy = NthChunkProxy(repl_port, 6)
        mirror = start_mirror(mirror_server(args, tmp, proxy.port, secret_from=primary))
        servers.append(mirror)
        wait_for(lambda: proxy.damaged_on("file_data"), "the damaged chunk to pass")
        m, p = wait_caught_up(args, primary, mirror)
        log = mirror.log_text()
        check(MISMATCH in log, "the damaged chunk went unnoticed")
        attempts = re.findall(r"receiving (\d+) \((\d+) MiB\), (\d+) kept from an earlier "
                              r"attempt", log)
        check(len(attempts) >= 2, "expected two bootstrap attempts: %r" % attempts)
        first, second = attempts[0], attempts[-1]
        check(int(first[2]) == 0 and int(second[2]) >= 5 and
              int(second[0]) + int(second[2]) == int(first[0]),
              "the second attempt did not keep the complete files: %r" % attempts)
        result = verify_equal(args, primary)
        print("  first attempt: %s files; after the damaged chunk: %s sent again, %s kept; "
              "digests equal for %d mailboxes" % (first[0], second[0], second[2],
                                                  result["mailboxes"]))
    finally:
        kill_all(servers)
        if proxy:
            proxy.close()


def archived_wals(srv):
    archive = os.path.join(srv.data_dir, "shards", "default", "archive")
    return sorted(os.listdir(archive)) if os.path.isdir(archive) else []


def test_mirror_behind_wal_retention_bootstraps_again(args, tmp):
    servers = []
    try:
        primary, repl_port, extra = start_primary(
            args, tmp, mode="async", config="[replication]\nwal_retention_seconds = 1\n")
        servers.append(primary)
        deliver(primary, 20, "first")
        mirror = start_mirror(mirror_server(args, tmp, repl_port, secret_from=primary))
        servers.append(mirror)
        wait_caught_up(args, primary, mirror)
        wait_for(lambda: any(m["in_sync"] for m in status(args, primary)["mirrors"]),
                 "the primary to see its mirror in sync")
        left_at = status(args, mirror)["sequence"]
        code = mirror.terminate(deadline=15)
        check(code == 0, "mirror exited with %s on SIGTERM" % code)
        mirror.log.close()

        # What the mirror needs next goes to WAL files that are archived when
        # the primary stops (it flushes) and purged, older than the retention,
        # at a later purge (after a flush: the next stop, or an open).
        deliver(primary, 40, "missed")
        missed_wals = set(archived_wals(primary))
        primary = restart(primary, extra)
        servers.append(primary)
        needed = set(archived_wals(primary)) - missed_wals
        time.sleep(2.5)  # RocksDB purges archived WALs older than the TTL (whole seconds)
        deliver(primary, 20, "later")
        primary = restart(primary, extra)
        servers.append(primary)
        gone = needed - set(archived_wals(primary))
        check(not needed or gone, "archived WALs %s were not purged" % sorted(needed))

        mirror = start_mirror(mirror_server(args, tmp, repl_port, secret_from=primary,
                                            admin_port=mirror.ports["admin"]))
        servers.append(mirror)
        m, p = wait_caught_up(args, primary, mirror)
        check(m["sequence"] > left_at, "the mirror stayed at %d: %r" % (left_at, m))
        check("purged from the archive" in primary.log_text(),
              "the primary did not send RESYNC:\n%s" % primary.log_text())
        log = mirror.log_text()
        check("the WAL archive moved past us" in log and "bootstrap complete" in log
              and m["bootstraps"] >= 1,
              "the mirror did not bootstrap again (%r):\n%s" % (m, log))
        result = verify_equal(args, primary)
        resync = [l for l in primary.log_text().splitlines() if "purged from the archive" in l]
        print("  mirror left at sequence %d; WAL files %s purged; primary: %s; bootstrapped "
              "again to sequence %d; digests equal for %d mailboxes" %
              (left_at, sorted(gone), resync[0].split("replication: ", 1)[-1], m["sequence"],
               result["mailboxes"]))
    finally:
        kill_all(servers)


def test_wrong_secret_is_refused(args, tmp):
    servers = []
    try:
        primary, repl_port, _ = start_primary(args, tmp, mode="async")
        servers.append(primary)
        deliver(primary, 20, "secret")
        with open(os.path.join(primary.data_dir, "replication.secret")) as f:
            right = f.read().strip()
        wrong = "".join("0123456789abcdef"[(int(c, 16) + 1) % 16] for c in right)
        mirror = start_mirror(mirror_server(args, tmp, repl_port, secret=wrong))
        servers.append(mirror)
        wait_for(lambda: "authentication failed" in primary.log_text(),
                 "the primary to refuse the mirror")
        wait_for(lambda: "authentication" in status(args, mirror).get("last_error", ""),
                 "the mirror to report the refusal")
        # It keeps being refused, and never receives anything.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            s = status(args, mirror)
            check(s["state"] not in ("bootstrap", "tailing") and s["sequence"] == 0
                  and s["bootstraps"] == 0, "the mirror got data: %r" % s)
            p = status(args, primary)
            check(not any(m["state"] in ("bootstrap", "tailing") or m["in_sync"]
                          for m in p["mirrors"]), "the primary serves the mirror: %r" % p)
            time.sleep(0.2)
        check(primary.log_text().count("authentication failed") >= 2,
              "the mirror did not try again")
        check(not os.path.exists(os.path.join(mirror.data_dir, "shards", "default")),
              "the mirror has a database: %r" % os.listdir(mirror.data_dir))
        check(not os.path.isdir(os.path.join(mirror.data_dir, "replication", "bootstrap")),
              "the mirror staged bootstrap files")
        s = status(args, mirror)
        print("  mirror refused: state %s, last_error %r" % (s["state"], s["last_error"]))
    finally:
        kill_all(servers)


if __name__ == "__main__":
    run_tests([test_corrupted_frames_are_detected_and_retried,
               test_interrupted_bootstrap_resumes_file_by_file,
               test_mirror_behind_wal_retention_bootstraps_again,
               test_wrong_secret_is_refused])
