#!/usr/bin/env python3
"""packmaild's IMAP listeners driven by curl (RFC 5092 IMAP URLs): upload
(APPEND), mailbox listing, fetch by UID and section, search, custom requests
(UID SEARCH, EXAMINE, STATUS), and the errors a client sees, over plain text,
STARTTLS and implicit TLS."""

import imaplib
import os
import subprocess

from harness import DEADLINE, check, require_tool, run_tests, server_with_users

FIRST = (b"From: Carol <carol@example.com>\r\n"
         b"To: Alice <alice@example.com>\r\n"
         b"Subject: curl upload one\r\n"
         b"Message-ID: <curl-1@example.com>\r\n"
         b"\r\n"
         b"First body line.\r\n"
         b"Second body line.\r\n")
SECOND = (b"From: Dave <dave@example.com>\r\n"
          b"To: Alice <alice@example.com>\r\n"
          b"Subject: curl upload two\r\n"
          b"\r\n"
          b"Another body.\r\n")


def curl(url, *extra, user="alice:s3cret", code=0):
    """curl's stdout (bytes) and stderr (text); the exit code must be code."""
    argv = [require_tool("curl", "curl"), "-sS", "--max-time", "%d" % DEADLINE,
            "-u", user, *extra, url]
    proc = subprocess.run(argv, capture_output=True, timeout=DEADLINE + 5)
    err = proc.stderr.decode("utf-8", "replace")
    check(proc.returncode == code, "%s: exit %d (want %d)\nstdout: %r\nstderr: %s"
          % (" ".join(argv), proc.returncode, code, proc.stdout, err))
    return proc.stdout, err


def lines(output):
    return output.decode("utf-8", "replace").splitlines()


def scenario(base, extra, tmp):
    """Drives one user's fresh store through base ("imap://127.0.0.1:PORT" or
    imaps://...) with extra curl options; returns curl -v's trace of a login."""
    for name, body in (("first.eml", FIRST), ("second.eml", SECOND)):
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(body)
    # -T uploads with APPEND (RFC 3501 6.3.11) to the URL's mailbox.
    curl(base + "/INBOX", "-T", os.path.join(tmp, "first.eml"), *extra)
    curl(base + "/INBOX", "-T", os.path.join(tmp, "second.eml"), *extra)
    curl(base + "/Sent", "-T", os.path.join(tmp, "second.eml"), *extra)

    # A URL without a mailbox lists them: LIST "" *.
    listed, _ = curl(base + "/", *extra)
    for want in ('* LIST (\\HasNoChildren) "/" "INBOX"',
                 '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
                 '* LIST (\\HasNoChildren \\Trash) "/" "Trash"'):
        check(want in lines(listed), "LIST output lacks %r:\n%s" % (want, listed.decode()))

    # ;UID=n fetches the whole message (BODY[]) byte for byte.
    body, _ = curl(base + "/INBOX;UID=1", *extra)
    check(body == FIRST, "UID 1 fetched as %r" % body)
    body, _ = curl(base + "/INBOX;UID=2", *extra)
    check(body == SECOND, "UID 2 fetched as %r" % body)
    text, _ = curl(base + "/INBOX;UID=1;SECTION=TEXT", *extra)
    check(text == b"First body line.\r\nSecond body line.\r\n", "SECTION=TEXT: %r" % text)
    header, _ = curl(base + "/INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)", *extra)
    check(header == b"Subject: curl upload one\r\n\r\n", "HEADER.FIELDS: %r" % header)
    # A UID that does not exist: FETCH answers OK with no data, curl says 78.
    curl(base + "/INBOX;UID=9", *extra, code=78)

    # ?query runs SEARCH.
    found, _ = curl(base + "/INBOX?SUBJECT%20%22upload%20two%22", *extra)
    check(lines(found) == ["* SEARCH 2"], "SEARCH: %r" % found)

    # -X sends a custom command and prints its untagged responses.
    found, _ = curl(base + "/INBOX", "-X", "UID SEARCH ALL", *extra)
    check(lines(found) == ["* SEARCH 1 2"], "UID SEARCH ALL: %r" % found)
    examined, _ = curl(base + "/", "-X", "EXAMINE INBOX", *extra)
    got = lines(examined)
    for want in ("* 2 EXISTS", "* OK [UIDNEXT 3] Predicted next UID",
                 "* OK [PERMANENTFLAGS ()] Flags permitted"):
        check(want in got, "EXAMINE INBOX lacks %r:\n%s" % (want, examined.decode()))
    check(any(line.startswith("* OK [UIDVALIDITY ") for line in got),
          "EXAMINE INBOX without UIDVALIDITY:\n%s" % examined.decode())
    status, _ = curl(base + "/", "-X", "STATUS Sent (MESSAGES UIDNEXT)", *extra)
    check(lines(status) == ['* STATUS "Sent" (MESSAGES 1 UIDNEXT 2)'] or
          lines(status) == ["* STATUS Sent (MESSAGES 1 UIDNEXT 2)"], "STATUS: %r" % status)

    # Errors a user sees.
    curl(base + "/INBOX", *extra, user="alice:wrong", code=67)  # CURLE_LOGIN_DENIED
    curl(base + "/Nope;UID=1", *extra, code=67)  # SELECT failed
    _, trace = curl(base + "/", "-v", *extra)
    return trace


def check_store_by_imaplib(srv):
    """What curl uploaded is what another client sees."""
    imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
    imap.login("alice", "s3cret")
    typ, count = imap.select("INBOX", readonly=True)
    check(typ == "OK" and count == [b"2"], "SELECT INBOX: %s %r" % (typ, count))
    typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[])")
    check(typ == "OK" and data[0][1] == FIRST, "imaplib sees %r" % (data,))
    imap.logout()


def test_plain(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        trace = scenario("imap://127.0.0.1:%d" % srv.ports["imap"], [], tmp)
        check("SSL connection" not in trace, "plain connection used TLS:\n" + trace)
        check_store_by_imaplib(srv)


def test_starttls(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        cafile = os.path.join(srv.data_dir, "tls", "cert.pem")
        # --ssl-reqd: STARTTLS or fail. The self-signed certificate names
        # 127.0.0.1, so it verifies against itself as the CA.
        trace = scenario("imap://127.0.0.1:%d" % srv.ports["imap"],
                         ["--ssl-reqd", "--cacert", cafile], tmp)
        check("> A002 STARTTLS" in trace and "SSL connection using" in trace,
              "no STARTTLS in the trace:\n" + trace)
        # The same with the certificate unchecked (-k), as a quick client would.
        listed, _ = curl("imap://127.0.0.1:%d/" % srv.ports["imap"], "--ssl-reqd", "-k")
        check(b'"INBOX"' in listed, "LIST over STARTTLS -k: %r" % listed)
        check_store_by_imaplib(srv)


def test_implicit_tls(args, tmp):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        trace = scenario("imaps://127.0.0.1:%d" % srv.ports["imaps"], ["-k"], tmp)
        tls_at, greeting_at = trace.find("SSL connection using"), trace.find("< * OK")
        check(0 <= tls_at < greeting_at, "imaps:// greeted before TLS:\n" + trace)
        check_store_by_imaplib(srv)


if __name__ == "__main__":
    run_tests([test_plain, test_starttls, test_implicit_tls])
