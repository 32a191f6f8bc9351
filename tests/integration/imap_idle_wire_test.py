#!/usr/bin/env python3
"""What one IMAP session hears of another's changes, on the wire: session A
(a raw socket) has INBOX selected while session B (imaplib) appends, stores
flags and expunges.

In IDLE (RFC 2177) A must be told each change, * N EXISTS, * N FETCH (FLAGS
...), * N EXPUNGE, within a second of B's tagged OK, and DONE ends IDLE with a
tagged OK. Outside IDLE the news comes with the next command: NOOP carries all
of it (RFC 3501 6.1.2, 7.3.1, 7.4.1, 7.4.2), and a FETCH by sequence number
carries no EXPUNGE (RFC 3501 7.4.1). A's view is replayed from what it is told
and must match the mailbox at the end."""

import imaplib
import queue
import re
import socket
import threading
import time

from harness import DEADLINE, check, deliver_to_inbox, ok, run_tests, server_with_users

ANNOUNCE = 1.0  # seconds: packmail's promise for IDLE announcements
SLACK = 0.5  # seconds for a loaded test machine


def message(subject):
    return ("From: Ivan <ivan@example.com>\r\n"
            "To: Alice <alice@example.com>\r\n"
            "Subject: %s\r\n"
            "\r\n"
            "Body of %s.\r\n" % (subject, subject)).encode()


class Wire:
    """One IMAP connection read line by line, every read with a deadline. A
    thread reads the socket and stamps each line with its arrival time, so
    latencies are measured from the wire, not from when the test looked. The
    exchange is kept, timed, for failure messages."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.sock.settimeout(None)  # the reader blocks; close() ends it
        self.start = time.monotonic()
        self.log = []
        self.tags = 0
        self.arrived = queue.Queue()
        self.last_arrival = None
        threading.Thread(target=self._read, daemon=True).start()
        greeting = self.line(time.monotonic() + DEADLINE)
        check(greeting.startswith("* OK"), "greeting %r" % greeting)

    def _read(self):
        buffer = b""
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                now = time.monotonic()
                buffer += chunk
                while b"\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n", 1)
                    self.arrived.put((now, raw.decode("utf-8", "replace")))
        except OSError:
            pass
        self.arrived.put((time.monotonic(), None))

    def transcript(self):
        return "\n".join("%7.3f %s" % entry for entry in self.log[-80:])

    def fail(self, why):
        raise AssertionError("%s\nsession A's exchange (seconds since connect):\n%s"
                             % (why, self.transcript()))

    def send(self, text):
        self.log.append((time.monotonic() - self.start, "C: " + text))
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self, deadline):
        """The next line (text, CRLF stripped); fails past deadline (monotonic).
        last_arrival is when it came off the socket."""
        try:
            at, text = self.arrived.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            self.fail("no line from the server in time")
        if text is None:
            self.fail("the server closed the connection")
        self.last_arrival = at
        self.log.append((at - self.start, "S: " + text))
        return text

    def command(self, text, accept=("OK",)):
        """Sends a tagged command; returns its untagged lines after a tagged
        answer that starts with one of accept."""
        self.tags += 1
        tag = "a%d" % self.tags
        self.send("%s %s" % (tag, text))
        deadline = time.monotonic() + DEADLINE
        untagged = []
        while True:
            line = self.line(deadline)
            if line.startswith(tag + " "):
                if not any(line.startswith(tag + " " + a) for a in accept):
                    self.fail("%s: %s" % (text, line))
                return untagged
            untagged.append(line)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class View:
    """A's idea of the selected mailbox: one entry per sequence number,
    replayed from EXISTS, EXPUNGE and FETCH as a client must (RFC 3501 7.3.1:
    EXISTS never shrinks the count; 7.4.1: EXPUNGE renumbers at once)."""

    def __init__(self, wire):
        self.wire = wire
        self.flags = []  # flags by sequence number - 1; None until fetched

    def apply(self, line):
        """Applies one untagged line; returns (kind, number, flags or None)."""
        m = re.match(r"\* (\d+) (EXISTS|EXPUNGE|RECENT|FETCH)\b(.*)$", line)
        if not m:
            return None
        n, kind, rest = int(m.group(1)), m.group(2), m.group(3)
        if kind == "EXISTS":
            if n < len(self.flags):
                self.wire.fail("EXISTS %d below the %d messages A knows" % (n, len(self.flags)))
            self.flags += [None] * (n - len(self.flags))
            return kind, n, None
        if kind == "RECENT":
            return kind, n, None
        if not 1 <= n <= len(self.flags):
            self.wire.fail("%s %d outside 1:%d" % (kind, n, len(self.flags)))
        if kind == "EXPUNGE":
            del self.flags[n - 1]
            return kind, n, None
        flags = re.search(r"FLAGS \(([^)]*)\)", rest)
        if flags:
            self.flags[n - 1] = set(flags.group(1).split()) - {"\\Recent"}
        return kind, n, self.flags[n - 1]

    def apply_all(self, lines):
        return [r for r in map(self.apply, lines) if r]

    def wait_for(self, kind, number, since, done, flag=None):
        """Reads A's lines, replaying each, until `* number kind` (with flag in
        its FLAGS, for FETCH) arrives, at the latest ANNOUNCE + SLACK seconds
        after `done` (when the change was acknowledged to its author); returns
        how long after `since` (when the change was asked for) it arrived."""
        while True:
            got = self.apply(self.wire.line(done + ANNOUNCE + SLACK))
            if got and got[0] == kind and got[1] == number and (
                    flag is None or flag in (got[2] or ())):
                return self.wire.last_arrival - since


def selected_pair(srv, messages):
    """Session A (Wire) and session B (imaplib) with INBOX selected, after B
    appended `messages` subjects; A's View is synced."""
    b = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    b.login("alice", "s3cret")
    for subject in messages:
        b.append("INBOX", None, None, message(subject))
    b.select("INBOX")
    a = Wire(srv.ports["imap"])
    a.command("LOGIN alice s3cret")
    view = View(a)
    view.apply_all(a.command("SELECT INBOX"))
    check(len(view.flags) == len(messages), "SELECT: %r" % a.transcript())
    view.apply_all(a.command("FETCH 1:* (FLAGS)"))
    return a, view, b


def final_check(a, view, b):
    """A's replayed view matches the mailbox as a fresh FETCH shows it: the
    count, and the flags of every message A was told flags of."""
    replayed = list(view.flags)
    fresh = View(a)
    fresh.flags = [None] * len(replayed)
    fresh.apply_all(a.command("FETCH 1:* (FLAGS)"))
    check(all(r is None or r == f for r, f in zip(replayed, fresh.flags)),
          "A's replayed view %r, the mailbox %r\n%s" % (replayed, fresh.flags, a.transcript()))
    typ, count = b.select("INBOX", readonly=True)
    check(int(count[0]) == len(replayed), "A counts %d, B %r" % (len(replayed), count))


def test_idle_announces_within_a_second(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        a, view, b = selected_pair(srv, ["one", "two"])
        a.tags += 1
        idle_tag = "a%d" % a.tags
        a.send(idle_tag + " IDLE")
        plus = a.line(time.monotonic() + DEADLINE)
        check(plus.startswith("+"), "IDLE answered %r" % plus)
        took = {}

        def change(what, kind, number, action, flag=None):
            since = time.monotonic()
            result = action()
            took[what] = view.wait_for(kind, number, since, time.monotonic(), flag)
            return result

        # A new message from outside, by LMTP.
        change("EXISTS after a delivery", "EXISTS", 3,
               lambda: deliver_to_inbox(srv, message("three")))
        change("FETCH \\Flagged", "FETCH", 1,
               lambda: ok(b.store("1", "+FLAGS", "(\\Flagged)"), "session B STORE"),
               flag="\\Flagged")
        change("FETCH \\Deleted", "FETCH", 2,
               lambda: ok(b.store("2", "+FLAGS", "(\\Deleted)"), "session B STORE"),
               flag="\\Deleted")
        change("EXPUNGE", "EXPUNGE", 2, lambda: ok(b.expunge(), "session B EXPUNGE"))
        change("EXISTS after B's APPEND", "EXISTS", 3,
               lambda: ok(b.append("INBOX", "(\\Seen)", None, message("four")), "session B APPEND"))

        a.send("DONE")
        deadline = time.monotonic() + DEADLINE
        while True:
            line = a.line(deadline)
            if line.startswith(idle_tag + " "):
                check(line.startswith(idle_tag + " OK"), "DONE answered %r" % line)
                break
            view.apply(line)
        check(view.flags[0] == {"\\Flagged"}, "message 1 %r\n%s" % (view.flags, a.transcript()))
        final_check(a, view, b)
        print("  announced in: %s" % ", ".join("%s %.3f s" % kv for kv in took.items()))
        a.command("LOGOUT")
        a.close()
        b.logout()


def test_noop_announces_everything(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        a, view, b = selected_pair(srv, ["one", "two", "three"])
        deliver_to_inbox(srv, message("four"))
        ok(b.store("1", "+FLAGS", "(\\Answered)"), "session B STORE")
        ok(b.store("2", "+FLAGS", "(\\Deleted)"), "session B STORE \\Deleted")
        ok(b.expunge(), "session B EXPUNGE")
        # All of it has been committed; A's NOOP must carry all of it.
        kinds = [(kind, n) for kind, n, _ in view.apply_all(a.command("NOOP"))]
        check(("EXPUNGE", 2) in kinds and any(k == "EXISTS" for k, _ in kinds),
              "NOOP after B's changes and a delivery told %r\n%s" % (kinds, a.transcript()))
        check(len(view.flags) == 3 and view.flags[0] == {"\\Answered"},
              "A's view after NOOP %r\n%s" % (view.flags, a.transcript()))
        # A second NOOP has nothing left to say.
        check(a.command("NOOP") == [], "a second NOOP:\n" + a.transcript())
        final_check(a, view, b)
        b.logout()
        a.close()


def test_fetch_by_sequence_number_holds_expunge_back(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        a, view, b = selected_pair(srv, ["one", "two", "three"])
        ok(b.store("2", "+FLAGS", "(\\Deleted)"), "session B STORE \\Deleted")
        ok(b.expunge(), "session B EXPUNGE")
        # RFC 3501 7.4.1: no EXPUNGE while a command that uses sequence numbers
        # runs; FETCH still sees three messages. For the expunged one it may
        # answer NO [EXPUNGEISSUED] (RFC 2180 4.1.2, RFC 5530 3).
        fetched = a.command("FETCH 1:* (FLAGS)", accept=("OK", "NO [EXPUNGEISSUED]"))
        check(not any(" EXPUNGE" in line for line in fetched),
              "EXPUNGE during FETCH:\n" + a.transcript())
        view.apply_all(fetched)
        check(len(view.flags) == 3, "A's view after FETCH %r" % view.flags)
        # A UID command may carry it (RFC 3501 7.4.1), NOOP must.
        untagged = a.command("NOOP")
        view.apply_all(untagged)
        check("* 2 EXPUNGE" in untagged and len(view.flags) == 2,
              "NOOP did not announce the EXPUNGE:\n" + a.transcript())
        final_check(a, view, b)
        b.logout()
        a.close()


if __name__ == "__main__":
    run_tests([test_idle_announces_within_a_second, test_noop_announces_everything,
               test_fetch_by_sequence_number_holds_expunge_back])
