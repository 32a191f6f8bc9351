#!/usr/bin/env python3
"""End to end through a real MTA: a private Postfix instance (its own config,
queue and data directories in a temp dir, SMTP on a free loopback port)
delivers the domains example.test (LMTP over TCP) and sock.example.test (LMTP
over packmaild's unix socket) to packmaild. Mail sent to Postfix's SMTP port
is read back over IMAP and POP3 with Postfix's and packmail's trace headers;
mail to an unknown user gets 550 5.1.1 from packmaild, and Postfix bounces it
to the sender (itself a packmail user).

Postfix is installed from Debian when missing. If it cannot be installed (or
the test does not run as root, which Postfix's master needs), the test prints
"SKIPPED: ..." and exits 77, which CMake's SKIP_RETURN_CODE turns into a
skipped test: it never passes silently."""

import os
import poplib
import shutil
import signal
import smtplib
import subprocess
import sys
import time

from harness import (DEADLINE, check, free_port, header_lines, imap_messages, lmtp_socket_path,
                     run_tests, server_with_users, wait_for)

SKIP = 77
POSTFIX = "/usr/sbin/postfix"
INSTALL_DEADLINE = 75  # seconds for each apt-get step
DELIVERY_DEADLINE = 30  # seconds from SMTP to the message in packmail
HOSTNAME = "postfix.packmail.test"


def find_postfix():
    return POSTFIX if os.access(POSTFIX, os.X_OK) else shutil.which("postfix")


def install_postfix():
    """None when Postfix is there (installing it from Debian if missing), else
    why it cannot be had."""
    if os.geteuid() != 0:
        return "not running as root: Postfix's master cannot run a private instance"
    if find_postfix():
        return None
    print("postfix not installed: installing it with apt-get")
    sys.stdout.flush()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Preseeded so that debconf asks nothing and writes no main.cf: this test
    # uses a config directory of its own.
    try:
        subprocess.run(["debconf-set-selections"], env=env, capture_output=True, timeout=DEADLINE,
                       input=b"postfix postfix/main_mailer_type select No configuration\n"
                             b"postfix postfix/mailname string localhost\n")
    except (OSError, subprocess.TimeoutExpired) as e:
        return "debconf-set-selections failed: %s" % e
    # Waits for another apt-get (scripts/install-deps.sh) rather than failing.
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=60", "install", "-y", "-q",
               "--no-install-recommends", "postfix"]
    output = b""
    for argv in (install, ["apt-get", "update", "-q"], install):
        try:
            proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=INSTALL_DEADLINE)
        except (OSError, subprocess.TimeoutExpired) as e:
            return "%s failed: %s" % (" ".join(argv), e)
        output = proc.stdout
        if argv is install and proc.returncode == 0 and find_postfix():
            return None
    tail = output.decode("utf-8", "replace").strip().splitlines()[-5:]
    return "apt-get could not install postfix:\n  " + "\n  ".join(tail)


class postfix_instance:
    """A private Postfix: main.cf and master.cf in root/etc, the queue in
    root/spool, the log in root/maillog. Loopback only; no chroot."""

    def __init__(self, root, smtp_port, lmtp_port, lmtp_socket):
        self.root = root
        self.conf = os.path.join(root, "etc")
        self.queue = os.path.join(root, "spool")
        self.maillog = os.path.join(root, "maillog")
        self.smtp_port = smtp_port
        os.makedirs(self.conf)
        os.makedirs(self.queue)  # postfix check creates what is inside
        # Postfix's daemons run as the postfix user: they must reach the queue
        # (the test's temp dir is created 0700).
        for path in (os.path.dirname(root), root):
            os.chmod(path, 0o755)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\n"
                    "mail_owner = postfix\n"
                    "setgid_group = postdrop\n"
                    "queue_directory = %s\n"
                    "data_directory = %s\n"
                    "maillog_file = %s\n"
                    "maillog_file_prefixes = %s\n"
                    "myhostname = %s\n"
                    "mydomain = packmail.test\n"
                    "myorigin = $myhostname\n"
                    "mydestination =\n"
                    "local_recipient_maps =\n"
                    "alias_maps =\n"
                    "alias_database =\n"
                    "inet_interfaces = loopback-only\n"
                    "inet_protocols = ipv4\n"
                    "mynetworks = 127.0.0.0/8\n"
                    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
                    # Postfix does not know packmail's users: packmail's LMTP
                    # says which exist (550 5.1.1), and Postfix bounces.
                    "smtpd_reject_unlisted_recipient = no\n"
                    "virtual_mailbox_domains = example.test, sock.example.test\n"
                    "virtual_mailbox_maps =\n"
                    "virtual_transport = lmtp:inet:127.0.0.1:%d\n"
                    "transport_maps = inline:{sock.example.test=lmtp:unix:%s}\n"
                    # Nothing leaves this machine.
                    "default_transport = error:packmail test instance: no outside delivery\n"
                    "relay_transport = error:packmail test instance: no outside delivery\n"
                    "notify_classes =\n"
                    "biff = no\n"
                    "queue_run_delay = 1s\n"
                    "minimal_backoff_time = 1s\n"
                    "maximal_backoff_time = 2s\n"
                    "lmtp_connection_cache_on_demand = no\n"
                    % (self.queue, os.path.join(root, "data"), self.maillog, root, HOSTNAME,
                       lmtp_port, lmtp_socket))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            # service type private unpriv chroot wakeup maxproc command
            f.write("127.0.0.1:%d inet n - n - - smtpd\n"
                    "pickup    unix  n - n 60 1 pickup\n"
                    "cleanup   unix  n - n -  0 cleanup\n"
                    "qmgr      unix  n - n 300 1 qmgr\n"
                    "rewrite   unix  - - n -  - trivial-rewrite\n"
                    "bounce    unix  - - n -  0 bounce\n"
                    "defer     unix  - - n -  0 bounce\n"
                    "trace     unix  - - n -  0 bounce\n"
                    "verify    unix  - - n -  1 verify\n"
                    "flush     unix  n - n 1000? 0 flush\n"
                    "proxymap  unix  - - n -  - proxymap\n"
                    "error     unix  - - n -  - error\n"
                    "retry     unix  - - n -  - error\n"
                    "discard   unix  - - n -  - discard\n"
                    "lmtp      unix  - - n -  - lmtp\n"
                    "anvil     unix  - - n -  1 anvil\n"
                    "scache    unix  - - n -  1 scache\n"
                    "postlog   unix-dgram n - n - 1 postlogd\n" % smtp_port)

    def postfix(self, *argv, timeout=DEADLINE):
        proc = subprocess.run([find_postfix(), "-c", self.conf, *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
        return proc.returncode, proc.stdout.decode("utf-8", "replace")

    def start(self):
        code, out = self.postfix("check")
        check(code == 0, "postfix check failed:\n%s" % out)
        code, out = self.postfix("start")
        check(code == 0, "postfix start failed:\n%s\n%s" % (out, self.log()))
        wait_for(lambda: self.master_pid() and can_smtp(self.smtp_port),
                 "Postfix's smtpd on 127.0.0.1:%d" % self.smtp_port)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def stop(self):
        """postfix stop; the master (and with it its children) killed if it
        is still there. Never raises."""
        pid = self.master_pid()
        try:
            self.postfix("stop")
        except (OSError, subprocess.TimeoutExpired):
            pass
        if pid is None:
            return
        end = time.monotonic() + 10
        while time.monotonic() < end and alive(pid):
            time.sleep(0.1)
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def log(self):
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return "(no maillog)"


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie is gone for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def can_smtp(port):
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=2)
        s.quit()
        return True
    except (OSError, smtplib.SMTPException):
        return False


def wait_for_messages(srv, user, password, count, mailbox="INBOX"):
    """user's messages (raw, in UID order) once there are count of them,
    polling IMAP."""
    def enough():
        found = imap_messages(srv, user, password, mailbox)
        return [raw for _, raw in sorted(found)] if len(found) >= count else None
    return wait_for(enough, "%d messages for %s (see Postfix's log)" % (count, user),
                    DELIVERY_DEADLINE, interval=0.2)


def test_postfix_delivers_over_lmtp(args, tmp):
    srv = server_with_users(args, tmp, (("alice", "s3cret"), ("bob", "hunter2")))
    with srv:
        srv.start().wait_ready()
        postfix = postfix_instance(os.path.join(tmp, "postfix"), free_port(), srv.ports["lmtp"],
                                   lmtp_socket_path(srv))
        try:
            postfix.start()
            body = (b"From: Bob <bob@example.test>\r\n"
                    b"To: Alice <alice@example.test>\r\n"
                    b"Subject: through postfix\r\n"
                    b"Message-ID: <postfix-1@example.test>\r\n"
                    b"\r\n"
                    b"Sent to Postfix, delivered by LMTP.\r\n"
                    b".a line starting with a dot\r\n")
            smtp = smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=DEADLINE)
            try:
                refused = smtp.sendmail("bob@example.test", ["alice@example.test"], body)
                check(refused == {}, "Postfix refused %r" % refused)
            finally:
                smtp.quit()

            # IMAP: the message with packmail's lines first, then Postfix's.
            got = wait_for_messages(srv, "alice", "s3cret", 1)
            check(len(got) == 1, "alice has %d messages" % len(got))
            raw = got[0]
            heads = header_lines(raw)
            check(heads[0] == b"Return-Path: <bob@example.test>", "first line %r" % heads[0])
            check(heads[1] == b"Delivered-To: alice@example.test", "second line %r" % heads[1])
            check(heads[2].startswith(b"Received: from %s (" % HOSTNAME.encode()),
                  "packmail's Received: %r" % heads[2])
            check(b"by %s (Postfix) with ESMTP id " % HOSTNAME.encode() in raw,
                  "no Received: by Postfix in %r" % raw)
            check(b"Sent to Postfix, delivered by LMTP.\r\n.a line starting with a dot\r\n"
                  in raw, "body %r" % raw)
            check(raw.endswith(b".a line starting with a dot\r\n"), "tail %r" % raw[-60:])

            # POP3: the same message, same octets.
            pop = poplib.POP3("127.0.0.1", srv.ports["pop3"], timeout=DEADLINE)
            try:
                pop.user("alice")
                pop.pass_("s3cret")
                got = pop.stat()
                check(got == (1, len(raw)), "STAT %r, want (1, %d)" % (got, len(raw)))
                _, lines, octets = pop.retr(1)
                check(b"".join(line + b"\r\n" for line in lines) == raw and octets == len(raw),
                      "RETR %r" % lines)
                pop.quit()
            finally:
                pop.close()

            # The unix socket transport (Postfix's lmtp client runs as the
            # postfix user).
            smtp = smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=DEADLINE)
            try:
                smtp.sendmail("bob@example.test", ["alice@sock.example.test"],
                              b"Subject: over the socket\r\n\r\nVia lmtp:unix.\r\n")
            finally:
                smtp.quit()
            got = wait_for_messages(srv, "alice", "s3cret", 2)
            check(header_lines(got[1])[1] == b"Delivered-To: alice@sock.example.test",
                  "socket delivery %r" % got[1])

            # An unknown user: packmail's LMTP answers 550 5.1.1 at RCPT,
            # Postfix logs status=bounced and bounces to the sender, bob, whose
            # bounce arrives by LMTP with the null reverse-path.
            smtp = smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=DEADLINE)
            try:
                smtp.sendmail("bob@example.test", ["ghost@example.test"],
                              b"Subject: to nobody\r\n\r\nNobody reads this.\r\n")
            finally:
                smtp.quit()
            bounce = wait_for_messages(srv, "bob", "hunter2", 1)[0]
            log = postfix.log()
            check("to=<ghost@example.test>" in log and "status=bounced" in log and
                  "550 5.1.1" in log, "maillog lacks the bounce:\n%s" % log)
            check(header_lines(bounce)[0] == b"Return-Path: <>", "bounce %r" % bounce[:200])
            check(b"Undelivered Mail Returned to Sender" in bounce and b"550 5.1.1" in bounce
                  and b"ghost@example.test" in bounce, "bounce %r" % bounce)
        except Exception:
            sys.stderr.write("--- Postfix maillog ---\n%s\n" % postfix.log())
            raise
        finally:
            postfix.stop()


if __name__ == "__main__":
    reason = install_postfix()
    if reason is not None:
        print("SKIPPED: Postfix end-to-end test: %s" % reason)
        sys.exit(SKIP)
    run_tests([test_postfix_delivers_over_lmtp])
