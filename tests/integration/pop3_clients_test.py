#!/usr/bin/env python3
"""packmaild's POP3 listeners driven by Python's poplib and a raw socket:
every command (RFC 1939, RFC 2449 CAPA/UIDL/TOP, RFC 5034 AUTH PLAIN, RFC 2595
STLS), exact octet counts of the messages as delivered by LMTP, byte-stuffing,
UIDLs stable across sessions, -ERR [IN-USE] for a second session, DELE applied
only at QUIT (an open IMAP session sees the EXPUNGEs) and a dropped connection
that deletes nothing."""

import base64
import imaplib
import poplib
import re
import socket

from harness import (DEADLINE, check, deliver_to_inbox, imap_messages, run_tests,
                     server_with_users, tls_context, wait_for)

# No pause after a failed login: the tests try a wrong password on purpose.
CONFIG = "[limits]\nauth_failure_delay_ms = 0\n"

MESSAGES = [
    (b"From: Bob <bob@example.com>\r\n"
     b"To: Alice <alice@example.com>\r\n"
     b"Subject: first\r\n"
     b"\r\n"
     b"Plain first body.\r\n"),
    # RFC 1939 3: lines starting with "." are byte-stuffed in multi-line
    # responses; the message itself keeps them as they are.
    (b"From: Bob <bob@example.com>\r\n"
     b"To: Alice <alice@example.com>\r\n"
     b"Subject: dots\r\n"
     b"\r\n"
     b".\r\n"
     b"..two dots\r\n"
     b".leading dot\r\n"
     b"middle . dot\r\n"
     b"last line\r\n"),
    (b"From: Carol <carol@example.com>\r\n"
     b"To: Alice <alice@example.com>\r\n"
     b"Subject: third\r\n"
     b"\r\n"
     b"Body line one.\r\n"
     b"Body line two.\r\n"
     b"Body line three.\r\n"),
]


def start(args, tmp):
    srv = server_with_users(args, tmp, (("alice", "s3cret"), ("bob", "hunter2")), CONFIG)
    return srv.start().wait_ready()


def seed(srv):
    """Delivers MESSAGES to alice; returns them as stored (LMTP's header lines
    first), read back by IMAP, in order."""
    for raw in MESSAGES:
        deliver_to_inbox(srv, raw)
    stored = [raw for _, raw in sorted(imap_messages(srv))]
    check(len(stored) == len(MESSAGES), "IMAP sees %d messages" % len(stored))
    for raw, original in zip(stored, MESSAGES):
        check(raw.endswith(original), "stored message does not end with the sent one: %r" % raw)
    return stored


def pop3(srv, user="alice", password="s3cret"):
    p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=DEADLINE)
    if user is not None:
        p.user(user)
        p.pass_(password)
    return p


def expect_err(call, want=b"-ERR"):
    """call() must fail with a -ERR reply starting with want; returns it."""
    try:
        reply = call()
    except poplib.error_proto as e:
        text = e.args[0]
        check(text.startswith(want), "want %r, got %r" % (want, text))
        return text
    raise AssertionError("want %r, got success %r" % (want, reply))


def joined(lines):
    return b"".join(line + b"\r\n" for line in lines)


class raw_pop3:
    """A POP3 connection over a plain socket, for what poplib cannot say."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.buffer = b""
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("connection closed; unread %r" % self.buffer)
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def multiline(self):
        """The lines of a multi-line body as sent (still byte-stuffed), up to
        the terminating "."."""
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            lines.append(line)

    def send(self, text):
        self.sock.sendall(text)

    def command(self, text):
        self.send(text + b"\r\n")
        return self.line()

    def close(self):
        self.sock.close()


def test_every_command(args, tmp):
    with start(args, tmp) as srv:
        stored = seed(srv)
        sizes = [len(m) for m in stored]
        p = pop3(srv, user=None)
        try:
            # APOP is not offered: the greeting carries no timestamp (RFC 1939
            # 7), and the command is refused.
            check(p.welcome.startswith(b"+OK"), "greeting %r" % p.welcome)
            check(not re.search(rb"<[^>]*@[^>]*>", p.welcome), "APOP timestamp in %r" % p.welcome)
            expect_err(lambda: p._shortcmd("APOP alice c4c9334bac560ecc979e58001b3e22fb"))

            caps = p.capa()
            for want in ("TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                         "STLS"):
                check(want in caps, "CAPA lacks %s: %r" % (want, caps))
            check(caps.get("SASL") == ["PLAIN"], "CAPA SASL: %r" % (caps.get("SASL"),))

            # Transaction commands before login are refused.
            expect_err(lambda: p.stat())
            p.user("alice")
            expect_err(lambda: p.pass_("wrong"), b"-ERR [AUTH]")
            check(p.user("alice").startswith(b"+OK"), "USER")
            check(p.pass_("s3cret").startswith(b"+OK"), "PASS")
            caps = p.capa()
            check("STLS" not in caps and "TOP" in caps, "CAPA after login: %r" % caps)

            count, octets = p.stat()
            check((count, octets) == (3, sum(sizes)), "STAT %r, want %r" % ((count, octets),
                                                                          (3, sum(sizes))))
            resp, listing, _ = p.list()
            check(resp.startswith(b"+OK"), "LIST %r" % resp)
            check(listing == [b"%d %d" % (i + 1, n) for i, n in enumerate(sizes)],
                  "LIST %r, sizes %r" % (listing, sizes))
            got = p.list(2)
            check(got == b"+OK 2 %d" % sizes[1], "LIST 2: %r" % got)
            expect_err(lambda: p.list(4))
            expect_err(lambda: p.list(0))

            resp, uidls, _ = p.uidl()
            check(len(uidls) == 3, "UIDL %r" % uidls)
            uids = {}
            for i, line in enumerate(uidls):
                number, uid = line.split(b" ")
                check(number == b"%d" % (i + 1), "UIDL line %r" % line)
                check(re.fullmatch(rb"[0-9A-F]{16}", uid), "UIDL format %r" % uid)
                uids[i + 1] = uid
            check(len(set(uids.values())) == 3, "UIDLs not unique: %r" % uids)
            got = p.uidl(3)
            check(got == b"+OK 3 " + uids[3], "UIDL 3: %r" % got)

            # RETR: the message as stored, un-stuffed by poplib; its octet count
            # is exactly the LIST size (CRLF line ends counted).
            for n, message in enumerate(stored, 1):
                resp, lines, got_octets = p.retr(n)
                check(resp.startswith(b"+OK"), "RETR %d: %r" % (n, resp))
                check(joined(lines) == message, "RETR %d: %r, want %r" % (n, lines, message))
                check(got_octets == len(message), "RETR %d: %d octets on the wire, LIST says %d"
                      % (n, got_octets, len(message)))
            expect_err(lambda: p.retr(9))

            # TOP n 0: the header and the blank line; TOP n 2: two body lines.
            head = stored[2].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            resp, lines, _ = p.top(3, 0)
            check(joined(lines) == head, "TOP 3 0: %r" % lines)
            resp, lines, _ = p.top(3, 2)
            check(joined(lines) == head + b"Body line one.\r\nBody line two.\r\n",
                  "TOP 3 2: %r" % lines)
            resp, lines, _ = p.top(2, 100)
            check(joined(lines) == stored[1], "TOP 2 100: %r" % lines)

            # DELE marks, RSET unmarks; the marked message is gone from STAT
            # and LIST, and commands on it fail.
            check(p.dele(1).startswith(b"+OK"), "DELE 1")
            expect_err(lambda: p.dele(1))
            expect_err(lambda: p.retr(1))
            expect_err(lambda: p.list(1))
            got = p.stat()
            check(got == (2, sizes[1] + sizes[2]), "STAT after DELE: %r" % (got,))
            check(p.list()[1] == [b"2 %d" % sizes[1], b"3 %d" % sizes[2]], "LIST after DELE")
            check(p.uidl()[1] == [b"2 " + uids[2], b"3 " + uids[3]], "UIDL after DELE")
            check(p.rset().startswith(b"+OK"), "RSET")
            got = p.stat()
            check(got == (3, sum(sizes)), "STAT after RSET: %r" % (got,))
            check(p.dele(2).startswith(b"+OK"), "DELE 2")
            check(p.noop().startswith(b"+OK"), "NOOP")
            expect_err(lambda: p._shortcmd("XYZZY"))
            check(p.quit().startswith(b"+OK"), "QUIT")
        finally:
            p.close()

        # QUIT expunged message 2 only; the others keep their UIDLs and were
        # marked \Seen (they were retrieved).
        left = [raw for _, raw in sorted(imap_messages(srv))]
        check(left == [stored[0], stored[2]], "after QUIT the store has %r" % left)
        p = pop3(srv)
        try:
            check(p.uidl()[1] == [b"1 " + uids[1], b"2 " + uids[3]], "UIDL in the next session")
            p.quit()
        finally:
            p.close()
        imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=DEADLINE)
        imap.login("alice", "s3cret")
        imap.select("INBOX", readonly=True)
        typ, data = imap.search(None, "SEEN")
        check(typ == "OK" and data[0].split() == [b"1", b"2"], "SEARCH SEEN: %r" % data)
        imap.logout()


def test_byte_stuffing_on_the_wire(args, tmp):
    """The bytes poplib un-stuffs: each line starting with '.' gets one more
    '.', and the body ends with CRLF.CRLF."""
    with start(args, tmp) as srv:
        stored = seed(srv)
        c = raw_pop3(srv.ports["pop3"])
        try:
            check(c.command(b"USER alice").startswith(b"+OK"), "USER")
            check(c.command(b"PASS s3cret").startswith(b"+OK"), "PASS")
            check(c.command(b"RETR 2") == b"+OK %d octets" % len(stored[1]), "RETR 2 status")
            body = c.multiline()
            lines = stored[1].split(b"\r\n")[:-1]
            want = [b"." + line if line.startswith(b".") else line for line in lines]
            check(body == want, "RETR 2 on the wire: %r, want %r" % (body, want))
            check(body[-5:-1] == [b"..", b"...two dots", b"..leading dot", b"middle . dot"],
                  "stuffed lines %r" % body[-5:])
            check(c.command(b"TOP 2 1").startswith(b"+OK"), "TOP 2 1")
            check(c.multiline()[-1] == b"..", "TOP stuffs the '.' line")
            check(c.command(b"QUIT").startswith(b"+OK"), "QUIT")
        finally:
            c.close()


def test_uidl_stable_and_in_use(args, tmp):
    with start(args, tmp) as srv:
        seed(srv)
        first = pop3(srv)
        try:
            uidls = first.uidl()[1]
            # RFC 1939 8 / RFC 2449 8.1.2: one session per maildrop; the
            # second gets -ERR [IN-USE] and stays in AUTHORIZATION.
            second = pop3(srv, user=None)
            try:
                second.user("alice")
                expect_err(lambda: second.pass_("s3cret"), b"-ERR [IN-USE]")
                # The login name with its domain names the same maildrop.
                second.user("alice@example.com")
                expect_err(lambda: second.pass_("s3cret"), b"-ERR [IN-USE]")
                # Another user's maildrop is not locked.
                second.user("bob")
                check(second.pass_("hunter2").startswith(b"+OK"), "bob logs in")
                second.quit()
            finally:
                second.close()
            # Mail delivered during the session is not in its snapshot.
            deliver_to_inbox(srv, b"Subject: late\r\n\r\nLate body.\r\n")
            got = first.stat()
            check(got[0] == 3, "snapshot grew: %r" % (got,))
            check(first.quit().startswith(b"+OK"), "QUIT")
        finally:
            first.close()
        # The next session (the lock released by QUIT) sees the same UIDLs
        # for the same messages, and the late message after them.
        again = pop3(srv, user="alice@example.com")
        try:
            now = again.uidl()[1]
            check(now[:3] == uidls, "UIDLs changed across sessions: %r vs %r" % (uidls, now))
            check(len(now) == 4, "late message not seen: %r" % now)
            again.quit()
        finally:
            again.close()


def test_dele_quit_expunges_for_imap(args, tmp):
    with start(args, tmp) as srv:
        stored = seed(srv)
        imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=DEADLINE)
        try:
            imap.login("alice", "s3cret")
            typ, data = imap.select("INBOX")
            check(typ == "OK" and data == [b"3"], "SELECT %r" % data)
            p = pop3(srv)
            try:
                check(p.dele(1).startswith(b"+OK"), "DELE 1")
                check(p.dele(3).startswith(b"+OK"), "DELE 3")
                # RFC 1939 6: nothing is removed before the UPDATE state.
                imap.noop()
                typ, data = imap.response("EXPUNGE")
                check(data == [None], "EXPUNGE before QUIT: %r" % data)
                check(p.quit().startswith(b"+OK"), "QUIT")
            finally:
                p.close()
            expunged = []

            def two_expunges():
                imap.noop()
                _, data = imap.response("EXPUNGE")
                expunged.extend(d for d in data if d is not None)
                return len(expunged) >= 2

            wait_for(two_expunges, "the IMAP session to see two EXPUNGEs")
            # Either order is fine: 1 then 2 (3 renumbered), or 3 then 1.
            check(sorted(expunged) in ([b"1", b"2"], [b"1", b"3"]), "EXPUNGE %r" % expunged)
            typ, data = imap.fetch("1:*", "(BODY.PEEK[])")
            bodies = [item[1] for item in data if isinstance(item, tuple)]
            check(bodies == [stored[1]], "INBOX after QUIT: %r" % bodies)
        finally:
            imap.logout()


def test_dropped_connection_deletes_nothing(args, tmp):
    with start(args, tmp) as srv:
        stored = seed(srv)
        c = raw_pop3(srv.ports["pop3"])
        check(c.command(b"USER alice").startswith(b"+OK"), "USER")
        check(c.command(b"PASS s3cret").startswith(b"+OK"), "PASS")
        check(c.command(b"DELE 1").startswith(b"+OK"), "DELE 1")
        check(c.command(b"DELE 2").startswith(b"+OK"), "DELE 2")
        c.close()  # no QUIT

        # The lock is released once packmaild sees the close; until then a
        # login may get [IN-USE].
        def login():
            p = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=DEADLINE)
            p.user("alice")
            try:
                p.pass_("s3cret")
                return p
            except poplib.error_proto as e:
                check(e.args[0].startswith(b"-ERR [IN-USE]"), "PASS: %r" % (e.args[0],))
                p.quit()
                return None

        p = wait_for(login, "the maildrop lock to be released")
        try:
            got = p.stat()
            check(got == (3, sum(len(m) for m in stored)), "STAT %r" % (got,))
            p.quit()
        finally:
            p.close()
        check([raw for _, raw in sorted(imap_messages(srv))] == stored, "store changed")


def test_auth_plain_and_pipelining(args, tmp):
    with start(args, tmp) as srv:
        stored = seed(srv)
        token = base64.b64encode(b"\0alice\0s3cret")
        c = raw_pop3(srv.ports["pop3"])
        try:
            check(c.command(b"AUTH").startswith(b"+OK"), "AUTH (list)")
            check(c.multiline() == [b"PLAIN"], "mechanisms")
            check(c.command(b"AUTH CRAM-MD5").startswith(b"-ERR"), "AUTH CRAM-MD5")
            # RFC 5034 4: "*" cancels.
            check(c.command(b"AUTH PLAIN") == b"+ ", "AUTH PLAIN continuation")
            check(c.command(b"*").startswith(b"-ERR"), "cancel")
            check(c.command(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0nope")).startswith(
                b"-ERR [AUTH]"), "wrong password")
            check(c.command(b"AUTH PLAIN") == b"+ ", "AUTH PLAIN continuation")
            check(c.command(token).startswith(b"+OK"), "AUTH PLAIN, response on its own line")
            # RFC 2449 6.6: PIPELINING: all in one write, replies in order.
            c.send(b"STAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nNOOP\r\nQUIT\r\n")
            sizes = [len(m) for m in stored]
            check(c.line() == b"+OK 3 %d" % sum(sizes), "pipelined STAT")
            check(c.line().startswith(b"+OK"), "pipelined LIST")
            check(c.multiline() == [b"%d %d" % (i + 1, n) for i, n in enumerate(sizes)], "LIST")
            check(c.line().startswith(b"+OK 1 "), "pipelined UIDL 1")
            check(c.line() == b"+OK %d octets" % sizes[0], "pipelined RETR 1")
            check(joined(c.multiline()) == stored[0], "pipelined RETR 1 body")
            check(c.line() == b"+OK", "pipelined NOOP")
            check(c.line().startswith(b"+OK"), "pipelined QUIT")
        finally:
            c.close()
        # AUTH PLAIN with an initial response, and an authzid equal to the
        # authcid.
        c = raw_pop3(srv.ports["pop3"])
        try:
            check(c.command(b"AUTH PLAIN " + base64.b64encode(b"alice\0alice\0s3cret"))
                  .startswith(b"+OK"), "AUTH PLAIN with an initial response")
            check(c.command(b"STAT").startswith(b"+OK 3 "), "STAT")
            check(c.command(b"QUIT").startswith(b"+OK"), "QUIT")
        finally:
            c.close()


def test_stls_and_pop3s(args, tmp):
    with start(args, tmp) as srv:
        stored = seed(srv)
        ctx = tls_context(srv.data_dir + "/tls/cert.pem")
        p = poplib.POP3("localhost", srv.ports["pop3"], timeout=DEADLINE)
        try:
            check(p.stls(context=ctx).startswith(b"+OK"), "STLS")
            check(p.sock.version() in ("TLSv1.2", "TLSv1.3"), "TLS %s" % p.sock.version())
            caps = p.capa()
            check("STLS" not in caps and "USER" in caps, "CAPA after STLS: %r" % caps)
            expect_err(lambda: p._shortcmd("STLS"))
            p.user("alice")
            p.pass_("s3cret")
            check(joined(p.retr(2)[1]) == stored[1], "RETR 2 over STLS")
            p.quit()
        finally:
            p.close()
        s = poplib.POP3_SSL("localhost", srv.ports["pop3s"], timeout=DEADLINE, context=ctx)
        try:
            check(s.welcome.startswith(b"+OK"), "pop3s greeting %r" % s.welcome)
            caps = s.capa()
            check("STLS" not in caps and "TOP" in caps, "CAPA on pop3s: %r" % caps)
            expect_err(lambda: s._shortcmd("STLS"))
            s.user("alice")
            s.pass_("s3cret")
            check(s.stat() == (3, sum(len(m) for m in stored)), "STAT on pop3s")
            check(joined(s.retr(3)[1]) == stored[2], "RETR 3 on pop3s")
            s.quit()
        finally:
            s.close()


if __name__ == "__main__":
    run_tests([test_every_command, test_byte_stuffing_on_the_wire, test_uidl_stable_and_in_use,
               test_dele_quit_expunges_for_imap, test_dropped_connection_deletes_nothing,
               test_auth_plain_and_pipelining, test_stls_and_pop3s])
