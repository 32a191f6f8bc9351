#!/usr/bin/env python3
"""packmaild's IMAP listeners driven by Python's imaplib: login, the mailbox
tree, APPEND/FETCH/STORE/SEARCH/COPY/EXPUNGE, STARTTLS, implicit TLS, and a
second session seeing the first one's changes."""

import imaplib
import os

from harness import check, ok, run_tests, server_with_users, tls_context

MESSAGE = (b"From: Alice <alice@example.com>\r\n"
           b"To: Bob <bob@example.com>\r\n"
           b"Subject: =?UTF-8?Q?caf=C3=A9?= meeting\r\n"
           b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <m1@example.com>\r\n"
           b"\r\n"
           b"Let us meet at the usual place.\r\n")


def test_login_mailboxes_and_messages(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
        check("IMAP4REV1" in imap.capabilities, "capabilities %r" % (imap.capabilities,))
        try:
            imap.login("alice", "wrong")
            raise AssertionError("a wrong password was accepted")
        except imaplib.IMAP4.error as e:
            check("AUTHENTICATIONFAILED" in str(e), "failed login: %s" % e)
        ok(imap.login("Alice", "s3cret"), "login")
        names = b"\n".join(ok(imap.list(), "list"))
        for name, use in ((b"INBOX", None), (b"Sent", b"\\Sent"), (b"Trash", b"\\Trash"),
                          (b"Drafts", b"\\Drafts"), (b"Junk", b"\\Junk")):
            check(name in names and (use is None or use in names), "LIST: %r" % names)
        ok(imap.create("Projects/2026"), "create")
        check(b"Projects/2026" in b"\n".join(ok(imap.list(), "list")), "created mailbox listed")

        append = ok(imap.append("INBOX", "(\\Flagged)", None, MESSAGE), "append")
        check(b"APPENDUID" in append[0], "APPENDUID: %r" % append)
        count = ok(imap.select("INBOX"), "select")
        check(count == [b"1"], "EXISTS after select: %r" % count)
        data = ok(imap.fetch("1", "(UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[])"), "fetch")
        meta, body = data[0]
        check(body == MESSAGE, "body: %r" % body)
        check(b"RFC822.SIZE %d" % len(MESSAGE) in meta, "size: %r" % meta)
        check(b"\\Flagged" in meta and b"\\Seen" not in meta, "flags: %r" % meta)
        check(b"<m1@example.com>" in meta, "envelope: %r" % meta)

        ok(imap.store("1", "+FLAGS", "(\\Seen)"), "store")
        flags = ok(imap.fetch("1", "(FLAGS)"), "fetch flags")
        check(b"\\Seen" in flags[0], "flags after store: %r" % flags)
        imap.literal = "caf\u00e9".encode()  # 8-bit search text goes in a literal
        check(ok(imap.search("UTF-8", "SUBJECT"), "search") == [b"1"],
              "search on a decoded subject")
        check(ok(imap.search(None, "BODY", '"usual place"'), "search body") == [b"1"],
              "search body")
        check(ok(imap.search(None, "UNSEEN"), "search unseen") == [b""], "search unseen")

        ok(imap.uid("COPY", "1", "Trash"), "uid copy")
        _, copyuid = imap.response("COPYUID")  # imaplib keeps the tagged OK's code here
        check(copyuid[0] is not None and copyuid[0].endswith(b" 1 1"), "COPYUID: %r" % copyuid)
        ok(imap.store("1", "+FLAGS", "(\\Deleted)"), "store deleted")
        check(ok(imap.expunge(), "expunge") == [b"1"], "expunged sequence number")
        check(ok(imap.status("Trash", "(MESSAGES)"), "status")[0].endswith(b"(MESSAGES 1)"),
              "message copied to Trash")
        imap.logout()
        check(srv.terminate() == 0, "exit code")


def test_second_session_sees_appends(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        first = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
        ok(first.login("alice", "s3cret"), "login")
        ok(first.select("INBOX"), "select")
        first.response("EXISTS")  # drop the untagged EXISTS 0 of SELECT
        second = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
        ok(second.login("alice", "s3cret"), "login 2")
        ok(second.append("INBOX", None, None, MESSAGE), "append")
        ok(first.noop(), "noop")
        typ, exists = first.response("EXISTS")
        check(exists == [b"1"], "EXISTS announced on NOOP: %r" % exists)
        first.logout()
        second.logout()


def test_starttls_and_implicit_tls(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        cafile = os.path.join(srv.data_dir, "tls", "cert.pem")
        ctx = tls_context(cafile)
        plain = imaplib.IMAP4("localhost", srv.ports["imap"])
        check("STARTTLS" in plain.capabilities, "STARTTLS advertised: %r" % (plain.capabilities,))
        ok(plain.starttls(ssl_context=ctx), "starttls")
        ok(plain.login("alice", "s3cret"), "login over STARTTLS")
        plain.logout()
        secure = imaplib.IMAP4_SSL("localhost", srv.ports["imaps"], ssl_context=ctx)
        ok(secure.login("alice", "s3cret"), "login over implicit TLS")
        ok(secure.select("INBOX", readonly=True), "examine")
        secure.logout()


def test_every_other_command(args, tmp):
    """The commands the tests above do not use, as imaplib sends them."""
    with server_with_users(args, tmp).start().wait_ready() as srv:
        imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
        check("AUTH=LOGIN" in imap.capabilities and "ENABLE" in imap.capabilities,
              "capabilities %r" % (imap.capabilities,))
        # AUTHENTICATE PLAIN (imaplib sends the response after a continuation).
        ok(imap.authenticate("PLAIN", lambda _: b"\0alice\0s3cret"), "authenticate plain")
        ok(imap.noop(), "noop")
        imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))  # RFC 2971
        ok(imap._simple_command("ID", "NIL"), "id")
        check(b'"packmail"' in imap.untagged_responses.pop("ID", [b""])[0], "ID response")
        check(ok(imap.namespace(), "namespace") == [b'(("" "/")) NIL NIL'], "namespace")
        ok(imap.enable("CONDSTORE"), "enable")
        # The mailbox tree: CREATE, RENAME (with a child), SUBSCRIBE, LSUB,
        # UNSUBSCRIBE, DELETE; a non-ASCII name in modified UTF-7.
        ok(imap.create("Projects"), "create")
        ok(imap.create("Projects/Alpha"), "create child")
        ok(imap.rename("Projects", "Archive/Projects"), "rename")
        names = b"\n".join(ok(imap.list(), "list"))
        check(b"Archive/Projects/Alpha" in names and b'"Projects"' not in names,
              "rename moved the children: %r" % names)
        ok(imap.create("&AMk-t&AOk-"), "create mUTF-7")  # "Été"
        ok(imap.subscribe("&AMk-t&AOk-"), "subscribe")
        check(b"&AMk-t&AOk-" in b"\n".join(ok(imap.lsub(), "lsub")), "lsub")
        ok(imap.unsubscribe("&AMk-t&AOk-"), "unsubscribe")
        check(b"&AMk-t&AOk-" not in b"\n".join(x for x in ok(imap.lsub(), "lsub") if x),
              "unsubscribed")
        ok(imap.delete("&AMk-t&AOk-"), "delete")
        typ, data = imap.select("Nonexistent")
        check(typ == "NO" and b"NONEXISTENT" in data[0], "select missing: %s %r" % (typ, data))
        for i in range(3):
            ok(imap.append("INBOX", None, None, MESSAGE.replace(b"m1@", b"m%d@" % i)), "append")
        ok(imap.select("INBOX"), "select")
        ok(imap.check(), "check")
        # COPY and MOVE by sequence number and by UID, UID FETCH/STORE/SEARCH.
        ok(imap.copy("1", "Archive"), "copy")
        ok(imap.uid("MOVE", "3", "Archive"), "uid move")
        check(ok(imap.uid("SEARCH", None, "ALL"), "uid search") == [b"1 2"], "after MOVE")
        data = ok(imap.uid("FETCH", "2", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"),
                  "uid fetch")
        check(b"<m1@example.com>" in data[0][1], "uid fetch header field: %r" % data)
        data = ok(imap.fetch("1", "(BODY.PEEK[]<0.10>)"), "partial fetch")
        check(data[0][1] == MESSAGE[:10], "partial: %r" % data)
        ok(imap.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)"), "uid store")
        ok(imap.unselect(), "unselect")  # no expunge
        ok(imap.select("INBOX"), "select again")
        check(ok(imap.search(None, "DELETED"), "search") == [b"1"], "UNSELECT kept \\Deleted")
        ok(imap.close(), "close")  # expunges
        count = ok(imap.select("Archive", readonly=True), "examine")
        check(count == [b"2"], "Archive after COPY and MOVE: %r" % count)
        ok(imap.close(), "close read-only")
        count = ok(imap.select("INBOX"), "select")
        check(count == [b"1"], "CLOSE expunged: %r" % count)
        imap.logout()
        # AUTHENTICATE LOGIN: two challenges.
        imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
        answers = iter([b"alice", b"s3cret"])
        ok(imap.authenticate("LOGIN", lambda _: next(answers)), "authenticate login")
        imap.logout()


if __name__ == "__main__":
    run_tests([test_login_mailboxes_and_messages, test_second_session_sees_appends,
               test_starttls_and_implicit_tls, test_every_other_command])
