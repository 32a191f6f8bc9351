#!/usr/bin/env python3
"""packmaild synced both ways with mbsync (isync) into a local Maildir, over
plain text, STARTTLS and implicit TLS: server messages arrive with their flags,
local new messages, flag changes and deletions reach the server (checked with
imaplib), server-side flag changes and expunges reach the Maildir, and a
further run changes nothing on either side."""

import imaplib
import os
import re
import subprocess

from harness import DEADLINE, check, require_tool, run_tests, server_with_users

# Maildir info flags (https://cr.yp.to/proto/maildir.html) and the IMAP flags
# mbsync maps them to.
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                 "T": "\\Deleted"}


def message(subject, body="Body of %s.\r\n"):
    return ("From: Erin <erin@example.com>\r\n"
            "To: Alice <alice@example.com>\r\n"
            "Subject: %s\r\n"
            "Message-ID: <%s@example.com>\r\n"
            "\r\n" % (subject, subject.replace(" ", "-")) + body % subject).encode()


def mbsync_config(tmp, port, ssl_type, cafile):
    """An mbsync rc syncing every mailbox of alice both ways (Sync All, Create
    Both, Expunge Both) with the Maildir tmp/mail."""
    maildir = os.path.join(tmp, "mail")
    os.makedirs(maildir, exist_ok=True)
    tls = "SSLType %s\n" % ssl_type
    if cafile:
        # The self-signed certificate names 127.0.0.1: trusting it as a CA
        # lets mbsync verify the server fully.
        tls += "CertificateFile %s\n" % cafile
    rc = os.path.join(tmp, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("IMAPAccount packmail\n"
                "Host 127.0.0.1\n"
                "Port %d\n"
                "User alice\n"
                "Pass s3cret\n"
                "%s"
                "Timeout %d\n"
                "\n"
                "IMAPStore far\n"
                "Account packmail\n"
                "\n"
                "MaildirStore near\n"
                "Path %s/\n"
                "Inbox %s/INBOX\n"
                "SubFolders Verbatim\n"
                "\n"
                "Channel both\n"
                "Far :far:\n"
                "Near :near:\n"
                "Patterns *\n"
                "Sync All\n"
                "Create Both\n"
                "Remove None\n"
                "Expunge Both\n"
                "SyncState *\n" % (port, tls, int(DEADLINE), maildir, maildir))
    return rc, maildir


def mbsync(rc):
    """Runs mbsync -D on the channel; returns its debug output (the IMAP
    exchange among it)."""
    argv = [require_tool("mbsync", "isync"), "-c", rc, "-D", "both"]
    proc = subprocess.run(argv, capture_output=True, timeout=DEADLINE * 2)
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    check(proc.returncode == 0, "mbsync exited %d:\n%s" % (proc.returncode, out[-6000:]))
    return out


def without_tuid(body):
    """mbsync adds an X-TUID header to every message it copies, either way (its
    bookkeeping for interrupted runs); the rest must be the original bytes."""
    return re.sub(rb"^X-TUID: [^\r\n]*\r\n", b"", body, count=1, flags=re.M)


def local_state(maildir):
    """{mailbox: {subject: (maildir flags, file name, CRLF body)}} of the
    Maildir tree (mbsync's state files left out)."""
    state = {}
    for root, dirs, files in os.walk(maildir):
        if os.path.basename(root) not in ("cur", "new"):
            continue
        box = os.path.relpath(os.path.dirname(root), maildir)
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                body = f.read()
            subject = re.search(rb"^Subject: (.*?)\r?$", body, re.M).group(1).decode()
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            crlf = without_tuid(re.sub(rb"\r?\n", b"\r\n", body))
            check(subject not in state.setdefault(box, {}), "%s twice in %s" % (subject, box))
            state[box][subject] = (flags, os.path.join(os.path.basename(root), name), crlf)
    return state


def local_flags(maildir):
    return {box: {s: set(v[0]) for s, v in msgs.items()}
            for box, msgs in local_state(maildir).items() if msgs}


def server_state(port):
    """{mailbox: (UIDVALIDITY, UIDNEXT, {subject: (uid, set of flags, body)})}."""
    imap = imaplib.IMAP4("127.0.0.1", port)
    imap.login("alice", "s3cret")
    state = {}
    _, listed = imap.list()
    for line in listed:
        box = re.search(rb'"([^"]*)"$', line).group(1).decode()
        typ, status = imap.status(box, "(UIDVALIDITY UIDNEXT)")
        check(typ == "OK", "STATUS %s: %r" % (box, status))
        validity = int(re.search(rb"UIDVALIDITY (\d+)", status[0]).group(1))
        uid_next = int(re.search(rb"UIDNEXT (\d+)", status[0]).group(1))
        messages = {}
        imap.select(box, readonly=True)
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        check(typ == "OK", "UID FETCH in %s: %r" % (box, data))
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, body = item
            uid = int(re.search(rb"UID (\d+)", meta).group(1))
            # \Recent goes to whichever session hears of a message first
            # (RFC 3501 2.3.2): not part of what is synced.
            flags = {f.decode() for f in imaplib.ParseFlags(meta)} - {"\\Recent"}
            subject = re.search(rb"^Subject: (.*?)\r$", body, re.M).group(1).decode()
            messages[subject] = (uid, flags, body)
        state[box] = (validity, uid_next, messages)
    imap.logout()
    return state


def server_flags(port):
    return {box: {s: v[1] for s, v in msgs.items()}
            for box, (_, _, msgs) in server_state(port).items() if msgs}


def sync_both_ways(args, tmp, listener, ssl_type, tls):
    with server_with_users(args, tmp).start().wait_ready() as srv:
        imap_port = srv.ports["imap"]
        cafile = os.path.join(srv.data_dir, "tls", "cert.pem") if tls else None
        rc, maildir = mbsync_config(tmp, srv.ports[listener], ssl_type, cafile)

        imap = imaplib.IMAP4("127.0.0.1", imap_port)
        imap.login("alice", "s3cret")
        imap.append("INBOX", "(\\Flagged)", None, message("server flagged"))
        imap.append("INBOX", None, None, message("server plain"))
        imap.append("INBOX", "(\\Seen \\Answered)", None, message("server answered"))
        imap.create("Projects")
        imap.append("Projects", "(\\Seen)", None, message("server project"))

        # 1: everything on the server comes down with its flags.
        out = mbsync(rc)
        if ssl_type == "STARTTLS":
            check(">>> 1 STARTTLS" in out, "mbsync did not use STARTTLS:\n" + out[-4000:])
        want = {"INBOX": {"server flagged": {"F"}, "server plain": set(),
                          "server answered": {"R", "S"}},
                "Projects": {"server project": {"S"}}}
        got = local_flags(maildir)
        check(got == want, "Maildir after the first sync: %r" % got)
        near = local_state(maildir)
        check(near["INBOX"]["server plain"][2] == message("server plain"),
              "body in the Maildir: %r" % (near["INBOX"]["server plain"][2],))

        # Local changes: a new message with \Seen, one new without flags in
        # another mailbox, a flag change (a rename to :2,FS), a deletion.
        inbox = os.path.join(maildir, "INBOX")
        with open(os.path.join(inbox, "cur", "1000000000.local1.test:2,S"), "wb") as f:
            f.write(message("local new", "Written \r\nby %s.\r\n").replace(b"\r\n", b"\n"))
        with open(os.path.join(maildir, "Projects", "new", "1000000001.local2.test"), "wb") as f:
            f.write(message("local project").replace(b"\r\n", b"\n"))
        plain = os.path.join(inbox, near["INBOX"]["server plain"][1])
        os.rename(plain, plain.rsplit(":2,", 1)[0] + ":2,FS")
        os.unlink(os.path.join(inbox, near["INBOX"]["server answered"][1]))
        # Server changes: a flag added, a message expunged.
        imap.select("INBOX")
        imap.uid("STORE", str(server_state(imap_port)["INBOX"][2]["server flagged"][0]),
                 "+FLAGS", "(\\Seen)")
        imap.select("Projects")
        imap.store("1", "+FLAGS", "(\\Deleted)")
        imap.expunge()
        imap.logout()

        # 2: both sides converge.
        mbsync(rc)
        want = {"INBOX": {"server flagged": {"\\Flagged", "\\Seen"},
                          "server plain": {"\\Flagged", "\\Seen"},
                          "local new": {"\\Seen"}},
                "Projects": {"local project": set()}}
        got = server_flags(imap_port)
        check(got == want, "server after the second sync: %r" % got)
        far = server_state(imap_port)
        uploaded = without_tuid(far["INBOX"][2]["local new"][2])
        check(uploaded == message("local new", "Written \r\nby %s.\r\n"),
              "uploaded body: %r" % uploaded)
        want = {"INBOX": {"server flagged": {"F", "S"}, "server plain": {"F", "S"},
                          "local new": {"S"}},
                "Projects": {"local project": set()}}
        got = local_flags(maildir)
        check(got == want, "Maildir after the second sync: %r" % got)

        # 3: nothing left to do: neither side changes.
        before_near, before_far = local_state(maildir), server_state(imap_port)
        out = mbsync(rc)
        writes = re.findall(r">>> \d+ (?:UID )?(?:APPEND|STORE|EXPUNGE|CREATE)\b.*", out)
        check(not writes, "a third sync still wrote to the server: %r" % writes)
        after_near, after_far = local_state(maildir), server_state(imap_port)
        check(after_near == before_near, "a third sync changed the Maildir:\n%r\n%r"
              % (before_near, after_near))
        check(after_far == before_far, "a third sync changed the server:\n%r\n%r"
              % (before_far, after_far))


def test_plain(args, tmp):
    sync_both_ways(args, tmp, "imap", "None", tls=False)


def test_starttls(args, tmp):
    sync_both_ways(args, tmp, "imap", "STARTTLS", tls=True)


def test_implicit_tls(args, tmp):
    sync_both_ways(args, tmp, "imaps", "IMAPS", tls=True)


if __name__ == "__main__":
    run_tests([test_plain, test_starttls, test_implicit_tls])
