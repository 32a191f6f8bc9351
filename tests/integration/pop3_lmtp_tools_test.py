#!/usr/bin/env python3
"""packmaild's POP3 and LMTP listeners driven by real command-line clients:
curl's POP3 support (listing, retrieval, UIDL, DELE; plain, STLS and implicit
TLS), fetchmail fetching into an mbox (plain with keep, STLS and pop3s without
keep, which deletes on the server), and swaks delivering over LMTP on TCP and
on the unix socket."""

import mailbox
import os
import subprocess
import sys

from harness import (DEADLINE, check, imap_messages, lmtp_socket_path, require_tool, run_tests,
                     server_with_users)

MESSAGES = [
    (b"From: Bob <bob@example.com>\r\n"
     b"To: Alice <alice@example.com>\r\n"
     b"Subject: tool one\r\n"
     b"Message-ID: <tool-1@example.com>\r\n"
     b"\r\n"
     b"First body.\r\n"
     b".a line starting with a dot\r\n"
     b".\r\n"
     b"After the dot.\r\n"),
    (b"From: Carol <carol@example.com>\r\n"
     b"To: Alice <alice@example.com>\r\n"
     b"Subject: tool two\r\n"
     b"Message-ID: <tool-2@example.com>\r\n"
     b"\r\n"
     b"Second body.\r\n"),
]


def start(args, tmp):
    srv = server_with_users(args, tmp, (("alice", "s3cret"),),
                            "[limits]\nauth_failure_delay_ms = 0\n")
    return srv.start().wait_ready()


def cert(srv):
    return os.path.join(srv.data_dir, "tls", "cert.pem")


def run(argv, code=0, env=None, what=None):
    """argv's stdout (bytes) and stderr (text); its exit code must be code."""
    proc = subprocess.run(argv, capture_output=True, timeout=DEADLINE + 10, env=env)
    err = proc.stderr.decode("utf-8", "replace")
    check(proc.returncode == code, "%s: exit %d (want %d)\nstdout: %s\nstderr: %s"
          % (what or " ".join(argv), proc.returncode, code,
             proc.stdout.decode("utf-8", "replace"), err))
    return proc.stdout, err


def swaks(*extra, code=0):
    argv = [require_tool("swaks", "swaks"), "--protocol", "LMTP", "--helo", "client.example",
            "--from", "x@y.example", "--timeout", "%d" % DEADLINE, *extra]
    out, _ = run(argv, code)
    return out.decode("utf-8", "replace")


def seed(srv):
    """Delivers MESSAGES to alice with swaks over TCP; returns them as stored."""
    for n, raw in enumerate(MESSAGES):
        path = os.path.join(os.path.dirname(srv.data_dir), "seed-%d.eml" % n)
        with open(path, "wb") as f:
            f.write(raw)
        swaks("--server", "127.0.0.1", "--port", str(srv.ports["lmtp"]),
              "--to", "alice@example.com", "--data", "@" + path)
    stored = [raw for _, raw in sorted(imap_messages(srv))]
    check(len(stored) == len(MESSAGES), "INBOX holds %d messages" % len(stored))
    for raw, sent in zip(stored, MESSAGES):
        # swaks ends the data with one more CRLF.
        check(raw.endswith(sent + b"\r\n"), "stored %r, sent %r" % (raw, sent))
    return stored


def curl(url, *extra, user="alice:s3cret", code=0):
    argv = [require_tool("curl", "curl"), "-sS", "--max-time", "%d" % DEADLINE, "-u", user,
            *extra, url]
    return run(argv, code)


def test_curl_pop3(args, tmp):
    with start(args, tmp) as srv:
        stored = seed(srv)
        base = "pop3://127.0.0.1:%d" % srv.ports["pop3"]
        # No message in the URL: LIST.
        listing, _ = curl(base + "/")
        want = b"".join(b"%d %d\r\n" % (n, len(m)) for n, m in enumerate(stored, 1))
        check(listing == want, "LIST %r, want %r" % (listing, want))
        # A message number: RETR, un-stuffed by curl, byte for byte.
        for n, message in enumerate(stored, 1):
            got, _ = curl(base + "/%d" % n)
            check(got == message, "RETR %d: %r" % (n, got))
        uidl, _ = curl(base + "/", "-X", "UIDL")
        check([line.split()[0] for line in uidl.splitlines()] == [b"1", b"2"], "UIDL %r" % uidl)
        top, _ = curl(base + "/", "-X", "TOP 2 0")
        check(top == stored[1].split(b"\r\n\r\n")[0] + b"\r\n\r\n", "TOP 2 0: %r" % top)
        # STLS, the certificate verified against packmaild's own.
        got, trace = curl(base + "/1", "--ssl-reqd", "--cacert", cert(srv), "-v")
        check(got == stored[0], "RETR 1 over STLS: %r" % got)
        check("> STLS" in trace and "TLS" in trace, "no STLS in curl's trace:\n%s" % trace)
        # Implicit TLS, with -k as the issue asks and with --cacert.
        base_tls = "pop3s://127.0.0.1:%d" % srv.ports["pop3s"]
        got, _ = curl(base_tls + "/2", "-k")
        check(got == stored[1], "RETR 2 over pop3s: %r" % got)
        listing, _ = curl(base_tls + "/", "--cacert", cert(srv))
        check(listing == want, "LIST over pop3s %r" % listing)
        # A wrong password: curl's CURLE_LOGIN_DENIED (67).
        curl(base + "/", user="alice:wrong", code=67)
        # DELE (no transfer: -I); curl ends with QUIT, so it takes effect.
        curl(base + "/1", "-X", "DELE", "-I")
        left = [raw for _, raw in imap_messages(srv)]
        check(left == [stored[1]], "after DELE 1 the INBOX holds %r" % left)
        listing, _ = curl(base + "/")
        check(listing == b"1 %d\r\n" % len(stored[1]), "LIST after DELE: %r" % listing)


# An MDA for fetchmail: appends the message on stdin to the mbox argv[1],
# with a From_ line and mboxrd quoting.
MDA = """import sys
data = sys.stdin.buffer.read().replace(b"\\r\\n", b"\\n")
if not data.endswith(b"\\n"):
    data += b"\\n"
lines = data.split(b"\\n")[:-1]
out = b"".join((b">" + l if l.lstrip(b">").startswith(b"From ") else l) + b"\\n" for l in lines)
with open(sys.argv[1], "ab") as f:
    f.write(b"From fetchmail@localhost Thu Jan  1 00:00:00 1970\\n" + out + b"\\n")
"""


def fetchmail(tmp, port, options):
    """Runs fetchmail once in the foreground with a generated rc file polling
    alice on port with options; returns its combined output."""
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    mda = os.path.join(tmp, "mda.py")
    with open(mda, "w") as f:
        f.write(MDA)
    mbox = os.path.join(tmp, "mbox")
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write("set no syslog\n"
                "poll localhost via 127.0.0.1 port %d protocol POP3 timeout %d\n"
                "  user \"alice\" there with password \"s3cret\" is \"root\" here\n"
                "  %s\n"
                "  mda \"%s %s %s\"\n" % (port, DEADLINE, options, sys.executable, mda, mbox))
    os.chmod(rc, 0o600)  # fetchmail refuses an rc file others can read
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    argv = [require_tool("fetchmail", "fetchmail"), "-f", rc, "--nodetach", "-v",
            "--idfile", os.path.join(home, "fetchids")]
    out, err = run(argv, env=env, what="fetchmail (%s)" % options)
    return out.decode("utf-8", "replace") + err


def mbox_messages(tmp):
    """(Subject, body) of each message in tmp/mbox, in order."""
    box = mailbox.mbox(os.path.join(tmp, "mbox"), create=False)
    try:
        return [(m["Subject"], m.get_payload()) for m in box]
    finally:
        box.close()


def test_fetchmail(args, tmp):
    with start(args, tmp) as srv:
        stored = seed(srv)
        want = [("tool one", "First body.\n.a line starting with a dot\n.\nAfter the dot.\n\n"),
                ("tool two", "Second body.\n\n")]
        # Plain text (STLS disabled by the empty sslproto), keep: fetched and
        # left on the server.
        log = fetchmail(tmp, srv.ports["pop3"], 'sslproto "" keep fetchall')
        check("POP3> STLS" not in log, "plain run used STLS:\n%s" % log)
        got = mbox_messages(tmp)
        check(got == want, "mbox after the plain run: %r\n%s" % (got, log))
        check([raw for _, raw in sorted(imap_messages(srv))] == stored, "keep deleted mail")

        # STLS (required by sslproto), the certificate checked against
        # packmaild's own (its subjectAltName "localhost": fetchmail matches
        # DNS names only); no keep: fetched and deleted.
        log = fetchmail(tmp, srv.ports["pop3"],
                        'sslproto "TLS1.2+" sslcertck sslcertfile "%s" sslcommonname localhost'
                        ' no keep fetchall' % cert(srv))
        check("POP3> STLS" in log, "STLS run did not use STLS:\n%s" % log)
        got = mbox_messages(tmp)
        check(got == want * 2, "mbox after the STLS run: %r\n%s" % (got, log))
        left = imap_messages(srv)
        check(left == [], "no keep left %r" % left)

        # Implicit TLS on pop3s, certificate not checked.
        swaks("--server", "127.0.0.1", "--port", str(srv.ports["lmtp"]),
              "--to", "alice@example.com", "--header", "Subject: tool three",
              "--body", "Third body.")
        fetchmail(tmp, srv.ports["pop3s"], "ssl no sslcertck no keep")
        got = mbox_messages(tmp)
        check(len(got) == 5 and got[4][0] == "tool three", "mbox after pop3s: %r" % got)
        left = imap_messages(srv)
        check(left == [], "pop3s run left %r" % left)


def test_swaks_lmtp(args, tmp):
    with start(args, tmp) as srv:
        out = swaks("--server", "127.0.0.1", "--port", str(srv.ports["lmtp"]),
                    "--to", "alice@example.com", "--header", "Subject: swaks over tcp",
                    "--body", "Delivered by swaks over TCP.")
        check("<-  250 2.0.0 <alice@example.com>" in out, "swaks over TCP:\n%s" % out)
        out = swaks("--socket", lmtp_socket_path(srv), "--to", "alice@example.com",
                    "--header", "Subject: swaks over the socket",
                    "--body", "Delivered by swaks over the unix socket.")
        check("<-  250 2.0.0 <alice@example.com>" in out, "swaks over the socket:\n%s" % out)
        # An unknown recipient is refused at RCPT; the known one still gets
        # the message, and swaks (pipelining) reads one reply for it.
        out = swaks("--server", "127.0.0.1", "--port", str(srv.ports["lmtp"]), "--pipeline",
                    "--to", "nobody@example.com,alice@example.com",
                    "--header", "Subject: swaks pipelined")
        check("<** 550 5.1.1 <nobody@example.com> User unknown" in out, "550:\n%s" % out)
        check("<-  250 2.0.0 <alice@example.com>" in out, "250 after DATA:\n%s" % out)
        check(out.count("2.0.0 <") == 1, "more than one reply after DATA:\n%s" % out)

        found = [raw for _, raw in sorted(imap_messages(srv))]
        check(len(found) == 3, "INBOX holds %d messages" % len(found))
        for raw, subject, text in ((found[0], b"swaks over tcp", b"over TCP."),
                                   (found[1], b"swaks over the socket", b"unix socket."),
                                   (found[2], b"swaks pipelined", b"")):
            check(raw.startswith(b"Return-Path: <x@y.example>\r\n"
                                 b"Delivered-To: alice@example.com\r\n"
                                 b"Received: from client.example"), "headers of %r" % raw)
            check(b"\r\nSubject: %s\r\n" % subject in raw and text in raw, "%r" % raw)


if __name__ == "__main__":
    run_tests([test_curl_pop3, test_fetchmail, test_swaks_lmtp])
