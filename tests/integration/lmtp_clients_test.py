#!/usr/bin/env python3
"""packmaild's LMTP listeners (TCP and the unix socket <data-dir>/lmtp.sock)
driven by Python's smtplib.LMTP and a raw socket (RFC 2033): LHLO
capabilities, one reply per accepted recipient after DATA with 550 5.1.1 for
an unknown one at RCPT, the Return-Path/Delivered-To/Received lines each copy
gets, recipient mapping (alice@example.com, user+folder), the size limit
(552 5.3.4), pipelining, and RSET/NOOP/VRFY/QUIT."""

import imaplib
import smtplib
import socket

from harness import (DEADLINE, check, deliver_to_inbox, header_lines, imap_messages,
                     lmtp_socket_path, run_tests, server_with_users)

SENDER = "sender@example.org"
MESSAGE = (b"From: Sender <sender@example.org>\r\n"
           b"To: Alice <alice@example.com>, Bob <bob@example.com>\r\n"
           b"Subject: lmtp test\r\n"
           b"Message-ID: <lmtp-1@example.org>\r\n"
           b"\r\n"
           b"First line.\r\n"
           b".a line starting with a dot\r\n"
           b".\r\n"
           b"Last line.\r\n")


def start(args, tmp, config=None):
    srv = server_with_users(args, tmp, (("alice", "s3cret"), ("bob", "hunter2")), config)
    return srv.start().wait_ready()


def connect(srv, where):
    """smtplib.LMTP over "tcp" or the "unix" socket (a path as host)."""
    if where == "tcp":
        return smtplib.LMTP("127.0.0.1", srv.ports["lmtp"], timeout=DEADLINE)
    return smtplib.LMTP(lmtp_socket_path(srv), timeout=DEADLINE)


def stuffed(raw):
    """raw as DATA sends it (RFC 5321 4.5.2), with the final ".\\r\\n"."""
    lines = raw.split(b"\r\n")
    check(lines[-1] == b"", "message must end with CRLF")
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n"
                    for line in lines[:-1]) + b".\r\n"


def data_replies(lmtp, raw, count):
    """DATA with raw; returns the count replies that follow the final "."
    (smtplib's LMTP.data() returns only the first one)."""
    lmtp.putcmd("data")
    code, text = lmtp.getreply()
    check(code == 354, "DATA: %d %r" % (code, text))
    lmtp.send(stuffed(raw))
    return [lmtp.getreply() for _ in range(count)]


def expect(reply, code, prefix=b""):
    check(reply[0] == code and reply[1].startswith(prefix),
          "want %d %r..., got %r" % (code, prefix, reply))


def only_message(srv, user, password, mailbox="INBOX"):
    found = imap_messages(srv, user, password, mailbox)
    check(len(found) == 1, "%s/%s holds %d messages" % (user, mailbox, len(found)))
    return found[0][1]


def test_lhlo_and_delivery_over_tcp_and_unix_socket(args, tmp):
    with start(args, tmp) as srv:
        for n, where in enumerate(("tcp", "unix"), 1):
            lmtp = connect(srv, where)
            try:
                code, text = lmtp.ehlo("client.example")  # LMTP says LHLO
                check(code == 250, "LHLO over %s: %d %r" % (where, code, text))
                for ext in ("pipelining", "8bitmime", "enhancedstatuscodes", "size"):
                    check(lmtp.has_extn(ext), "LHLO over %s lacks %s: %r" % (where, ext, text))
                check(lmtp.esmtp_features["size"] == str(64 * 1024 * 1024),
                      "SIZE %r" % lmtp.esmtp_features["size"])
                raw = MESSAGE.replace(b"lmtp test", b"over %s" % where.encode())
                refused = lmtp.sendmail(SENDER, ["alice@example.com"], raw)
                check(refused == {}, "refused %r" % refused)
                expect(lmtp.quit(), 221, b"2.0.0")
            finally:
                lmtp.close()
            found = imap_messages(srv)
            check(len(found) == n, "INBOX holds %d messages" % len(found))
            got = found[-1][1]
            check(got.endswith(raw), "stored %r" % got)
            heads = header_lines(got)
            check(heads[0] == b"Return-Path: <sender@example.org>", "first line %r" % heads[0])
            check(heads[1] == b"Delivered-To: alice@example.com", "second line %r" % heads[1])
            # TCP gives the client's address; the unix socket none.
            received = b"Received: from client.example" + (b" ([127.0.0.1])" if where == "tcp"
                                                          else b"")
            check(heads[2] == received, "third line %r, want %r" % (heads[2], received))


def test_one_reply_per_recipient(args, tmp):
    with start(args, tmp) as srv:
        lmtp = connect(srv, "tcp")
        try:
            lmtp.ehlo("client.example")
            expect(lmtp.mail(SENDER), 250, b"2.1.0")
            expect(lmtp.rcpt("alice@example.com"), 250, b"2.1.5")
            expect(lmtp.rcpt("nobody@example.com"), 550,
                   b"5.1.1 <nobody@example.com> User unknown")
            expect(lmtp.rcpt("bob@example.com"), 250, b"2.1.5")
            # RFC 2033 4.2: one reply per accepted RCPT, in RCPT order.
            replies = data_replies(lmtp, MESSAGE, 2)
            expect(replies[0], 250, b"2.0.0 <alice@example.com> ")
            expect(replies[1], 250, b"2.0.0 <bob@example.com> ")
            expect(lmtp.noop(), 250, b"2.0.0")
            expect(lmtp.quit(), 221)
        finally:
            lmtp.close()
        for user, password in (("alice", "s3cret"), ("bob", "hunter2")):
            got = only_message(srv, user, password)
            heads = header_lines(got)
            check(heads[:2] == [b"Return-Path: <sender@example.org>",
                                b"Delivered-To: %s@example.com" % user.encode()],
                  "%s's copy starts with %r" % (user, heads[:3]))
            check(heads[2].startswith(b"Received: from client.example ([127.0.0.1])"),
                  "Received %r" % heads[2])
            check(b"\r\n\tfor <%s@example.com>; " % user.encode() in got, "Received: for")
            # The dots were un-stuffed: the message is stored as sent.
            check(got.endswith(MESSAGE), "%s's copy %r" % (user, got))


def test_recipient_mapping_and_folders(args, tmp):
    with start(args, tmp) as srv:
        def deliver(rcpt, subject):
            deliver_to_inbox(srv, b"Subject: %s\r\n\r\nbody\r\n" % subject, rcpt=rcpt)

        # The address's domain is local (no local_domains configured), case
        # does not matter, and an address without a domain names the user.
        deliver("ALICE@Example.COM", b"upper")
        deliver("alice", b"bare")
        # No folder "Work" yet: INBOX.
        deliver("alice+Work@example.com", b"plus before create")
        subjects = [raw.split(b"Subject: ")[1].split(b"\r\n")[0] for _, raw in imap_messages(srv)]
        check(subjects == [b"upper", b"bare", b"plus before create"], "INBOX %r" % subjects)

        imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=DEADLINE)
        try:
            imap.login("alice", "s3cret")
            typ, data = imap.create("Work")
            check(typ == "OK", "CREATE Work: %r" % data)
        finally:
            imap.logout()
        deliver("alice+Work@example.com", b"plus after create")
        got = only_message(srv, "alice", "s3cret", "Work")
        check(header_lines(got)[1] == b"Delivered-To: alice+Work@example.com", "%r" % got)
        check(b"Subject: plus after create\r\n" in got, "%r" % got)
        check(len(imap_messages(srv)) == 3, "INBOX grew")
        # A user whose name appears in the passwd-file only as bob.
        deliver("bob+Work@example.net", b"bob, no such folder")
        check(b"Subject: bob, no such folder" in only_message(srv, "bob", "hunter2"), "bob")


def test_size_limit(args, tmp):
    with start(args, tmp, "[limits]\nmax_literal_size = 2000\n") as srv:
        lmtp = connect(srv, "tcp")
        try:
            lmtp.ehlo("client.example")
            check(lmtp.esmtp_features.get("size") == "2000", "SIZE %r" % lmtp.esmtp_features)
            # RFC 1870 6.1: a declared size over the limit fails at MAIL.
            expect(lmtp.mail(SENDER, ["SIZE=5000"]), 552, b"5.3.4")
            expect(lmtp.rset(), 250)
            # Undeclared: the data is read and refused per recipient.
            big = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" + (b"y" * 78 + b"\r\n") * 40
            expect(lmtp.mail(SENDER), 250)
            expect(lmtp.rcpt("alice@example.com"), 250)
            expect(lmtp.rcpt("bob@example.com"), 250)
            replies = data_replies(lmtp, big, 2)
            for reply, user in zip(replies, (b"alice", b"bob")):
                expect(reply, 552, b"5.3.4")
                check(b"<%s@example.com>" % user in reply[1], "reply %r" % (reply,))
            # The session goes on: a small message is delivered.
            expect(lmtp.rset(), 250)
            expect(lmtp.mail(SENDER, ["SIZE=100"]), 250)
            expect(lmtp.rcpt("alice@example.com"), 250)
            expect(data_replies(lmtp, b"Subject: small\r\n\r\nsmall\r\n", 1)[0], 250, b"2.0.0")
            expect(lmtp.quit(), 221)
        finally:
            lmtp.close()
        got = only_message(srv, "alice", "s3cret")
        check(b"Subject: small" in got, "INBOX %r" % got)
        check(imap_messages(srv, "bob", "hunter2") == [], "bob got the big message")


def test_rset_noop_vrfy_quit_and_errors(args, tmp):
    with start(args, tmp) as srv:
        lmtp = connect(srv, "tcp")
        try:
            # RFC 2033 4.1: HELO and EHLO get no positive reply.
            expect(lmtp.docmd("HELO", "client.example"), 500, b"5.5.1")
            expect(lmtp.docmd("EHLO", "client.example"), 500, b"5.5.1")
            lmtp.ehlo("client.example")
            expect(lmtp.noop(), 250, b"2.0.0")
            expect(lmtp.verify("alice"), 252, b"2.5.0")
            expect(lmtp.docmd("RCPT", "TO:<alice@example.com>"), 503)  # no MAIL yet
            expect(lmtp.mail(SENDER), 250)
            expect(lmtp.mail(SENDER), 503)  # one MAIL per transaction
            expect(lmtp.rcpt("nobody@example.com"), 550, b"5.1.1")
            expect(lmtp.docmd("DATA"), 503, b"5.5.1")  # no valid recipient
            expect(lmtp.rcpt("alice@example.com"), 250)
            # RSET drops the transaction: DATA has no MAIL to go with.
            expect(lmtp.rset(), 250, b"2.0.0")
            expect(lmtp.docmd("DATA"), 503)
            expect(lmtp.docmd("BDAT", "10 LAST"), 502)
            expect(lmtp.docmd("STARTTLS"), 502)
            expect(lmtp.docmd("HELP"), 214)
            code, text = lmtp.quit()
            check(code == 221 and text.endswith(b" Bye"), "QUIT %r" % ((code, text),))
        finally:
            lmtp.close()
        check(imap_messages(srv) == [], "nothing delivered")


def read_reply(sock_file):
    """One SMTP reply: (code, [text lines])."""
    lines = []
    while True:
        line = sock_file.readline()
        check(line.endswith(b"\r\n"), "reply line %r" % line)
        lines.append(line[4:-2])
        if line[3:4] == b" ":
            return int(line[:3]), lines


def test_pipelined_unix_socket_and_8bitmime(args, tmp):
    """RFC 2920: the whole envelope in one write, over the unix socket, with
    an 8-bit body (RFC 6152 BODY=8BITMIME) stored byte for byte."""
    with start(args, tmp) as srv:
        raw = ("Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße, Ελληνικά, 日本語\r\n").encode()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(DEADLINE)
        sock.connect(lmtp_socket_path(srv))
        f = sock.makefile("rb")
        try:
            check(read_reply(f)[0] == 220, "greeting")
            sock.sendall(b"LHLO client.example\r\n"
                         b"MAIL FROM:<sender@example.org> BODY=8BITMIME SIZE=%d\r\n"
                         b"RCPT TO:<bob@example.com>\r\n"
                         b"RCPT TO:<ghost@example.com>\r\n"
                         b"RCPT TO:<alice@example.com>\r\n"
                         b"DATA\r\n" % len(raw))
            code, caps = read_reply(f)
            check(code == 250 and b"PIPELINING" in caps, "LHLO %r" % caps)
            replies = [read_reply(f)[0] for _ in range(5)]
            check(replies == [250, 250, 550, 250, 354], "pipelined replies %r" % replies)
            sock.sendall(stuffed(raw) + b"QUIT\r\n")
            first, second = read_reply(f), read_reply(f)
            check(first[0] == 250 and first[1][0].startswith(b"2.0.0 <bob@example.com>"),
                  "%r" % (first,))
            check(second[0] == 250 and second[1][0].startswith(b"2.0.0 <alice@example.com>"),
                  "%r" % (second,))
            check(read_reply(f)[0] == 221, "QUIT")
        finally:
            f.close()
            sock.close()
        for user, password in (("alice", "s3cret"), ("bob", "hunter2")):
            got = only_message(srv, user, password)
            check(got.endswith(raw), "%s's 8-bit copy %r" % (user, got))


if __name__ == "__main__":
    run_tests([test_lhlo_and_delivery_over_tcp_and_unix_socket, test_one_reply_per_recipient,
               test_recipient_mapping_and_folders, test_size_limit,
               test_rset_noop_vrfy_quit_and_errors, test_pipelined_unix_socket_and_8bitmime])
