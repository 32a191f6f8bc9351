#!/usr/bin/env python3
"""\\Recent (RFC 3501 2.3.2) goes to one session of the server, whichever
listener it came in on: a session on imap and one on imaps that have INBOX
selected when a message arrives must not both see it as recent."""

import imaplib
import os

from harness import check, deliver_to_inbox, run_tests, server_with_users, tls_context

MESSAGE = b"From: a@example.com\r\nSubject: new\r\n\r\nhello\r\n"


def recent_after_noop(imap):
    typ, _ = imap.noop()
    check(typ == "OK", "NOOP: %s" % typ)
    typ, data = imap.response("RECENT")
    return int(data[-1]) if data and data[-1] is not None else 0


def test_one_session_over_both_listeners_gets_recent(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        cafile = os.path.join(srv.data_dir, "tls", "cert.pem")
        plain = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
        secure = imaplib.IMAP4_SSL("localhost", srv.ports["imaps"], ssl_context=tls_context(cafile))
        for imap in (plain, secure):
            imap.login("alice", "s3cret")
            typ, _ = imap.select("INBOX")
            check(typ == "OK", "SELECT: %s" % typ)
            imap.response("RECENT")  # drop SELECT's "* 0 RECENT"
        deliver_to_inbox(srv, MESSAGE)
        counts = sorted([recent_after_noop(plain), recent_after_noop(secure)])
        check(counts == [0, 1], "RECENT seen by the imap and imaps sessions: %r "
              "(one of them only must see the new message as recent)" % counts)
        plain.logout()
        secure.logout()


if __name__ == "__main__":
    run_tests([test_one_session_over_both_listeners_gets_recent])
