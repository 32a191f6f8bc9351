#!/usr/bin/env python3
"""packmaild driven by imapflow (npm), the IMAP library of many Node.js mail
apps: over STARTTLS and over implicit TLS, tests/integration/imapflow/client.mjs
lists mailboxes, fetches envelopes, sources and body parts, adds and removes
flags, then IDLEs until a message delivered from another connection is pushed
to it as * N EXISTS.

imapflow is pinned in imapflow/package.json and package-lock.json; `npm ci`
installs it under the build directory (<build>/tests/integration/imapflow-node),
where it is kept between runs. No npm registry, no test: that fails, loudly."""

import fcntl
import filecmp
import imaplib
import json
import os
import queue
import shutil
import subprocess
import threading
import time

from harness import (DEADLINE, build_dir, check, deliver_to_inbox, require_tool, run_tests,
                     server_with_users)

SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imapflow")
NPM_DEADLINE = 90  # seconds for npm ci on a cold cache
CLIENT_DEADLINE = 30  # seconds for one run of client.mjs

FIRST = (b"From: Frank <frank@example.com>\r\n"
         b"To: Alice <alice@example.com>\r\n"
         b"Subject: imapflow first\r\n"
         b"Message-ID: <flow-1@example.com>\r\n"
         b"\r\n"
         b"First message for imapflow.\r\n")
SECOND = (b"From: Grace <grace@example.com>\r\n"
          b"To: Alice <alice@example.com>\r\n"
          b"Subject: imapflow second\r\n"
          b"\r\n"
          b"Second message.\r\n")
PUSHED = (b"From: Heidi <heidi@example.com>\r\n"
          b"To: Alice <alice@example.com>\r\n"
          b"Subject: delivered during IDLE\r\n"
          b"\r\n"
          b"Pushed to the idling client.\r\n")


def install_imapflow(args, tmp):
    """The directory holding client.mjs and node_modules/imapflow as pinned by
    package-lock.json; npm ci runs only when the cached lock differs."""
    require_tool("node", "nodejs")
    npm = require_tool("npm", "npm (it comes with NodeSource's nodejs)")
    build = build_dir(args)
    work = os.path.join(build, "tests", "integration", "imapflow-node") if build else \
        os.path.join(tmp, "imapflow-node")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one npm ci at a time in this directory
        # A copy of the lock, written once npm ci succeeded, says what is installed.
        stamp = os.path.join(work, "installed-package-lock.json")
        wanted = os.path.join(SOURCE_DIR, "package-lock.json")
        if not (os.path.exists(stamp) and filecmp.cmp(stamp, wanted, shallow=False)):
            if os.path.exists(stamp):
                os.unlink(stamp)
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(os.path.join(SOURCE_DIR, name), os.path.join(work, name))
            try:
                proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=work,
                                      capture_output=True, timeout=NPM_DEADLINE)
            except subprocess.TimeoutExpired:
                raise AssertionError("npm ci in %s took over %d s: the npm registry must be "
                                     "reachable to install imapflow" % (work, NPM_DEADLINE))
            if proc.returncode != 0:
                raise AssertionError(
                    "npm ci in %s failed (exit %d): the npm registry must be reachable to "
                    "install imapflow\n%s" % (work, proc.returncode,
                                               (proc.stdout + proc.stderr).decode()[-4000:]))
            shutil.copyfile(wanted, stamp)
        shutil.copyfile(os.path.join(SOURCE_DIR, "client.mjs"), os.path.join(work, "client.mjs"))
    return work


class Client:
    """client.mjs running in the background, its JSON lines queued by a thread
    as they come: expect() takes the next one, within a deadline."""

    def __init__(self, work, options, stderr_path):
        self.stderr_path = stderr_path
        self.stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            [require_tool("node", "nodejs"), os.path.join(work, "client.mjs"),
             json.dumps(options)], stdout=subprocess.PIPE, stderr=self.stderr, cwd=work)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def transcript(self):
        self.stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-8000:]

    def fail(self, why):
        raise AssertionError("%s\nevents: %s\nclient.mjs wire log:\n%s"
                             % (why, json.dumps(self.seen, indent=1)[-4000:], self.transcript()))

    def expect(self, event, deadline=DEADLINE):
        """The next event, which must be `event`, within deadline seconds."""
        try:
            line = self.lines.get(timeout=deadline)
        except queue.Empty:
            self.fail("no %r from client.mjs within %.0f s" % (event, deadline))
        if line is None:
            self.fail("client.mjs exited (code %s) before %r" % (self.proc.wait(), event))
        got = json.loads(line)
        self.seen.append(got)
        if got["event"] != event:
            self.fail("client.mjs said %r where %r was due" % (got["event"], event))
        return got

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def drive(args, tmp, mode):
    work = install_imapflow(args, tmp)
    with server_with_users(args, tmp).start().wait_ready() as srv:
        imap = imaplib.IMAP4("127.0.0.1", srv.ports["imap"])
        imap.login("alice", "s3cret")
        imap.append("INBOX", "(\\Seen)", None, FIRST)
        imap.append("INBOX", None, None, SECOND)

        cafile = os.path.join(srv.data_dir, "tls", "cert.pem")
        options = {"host": "127.0.0.1", "user": "alice", "pass": "s3cret", "mode": mode,
                   "deadline_ms": CLIENT_DEADLINE * 1000}
        if mode == "starttls":
            options.update(port=srv.ports["imap"], ca=cafile)  # verified
        else:
            options.update(port=srv.ports["imaps"])  # tls.rejectUnauthorized false
        client = Client(work, options, os.path.join(tmp, "client-wire.log"))
        try:
            connected = client.expect("connected")
            check(connected["secure"], "imapflow did not use TLS: %r" % connected)
            check("IDLE" in connected["capabilities"], "capabilities %r" % connected)

            listed = {m["path"]: m["special_use"] for m in client.expect("list")["mailboxes"]}
            check(listed.get("Sent") == "\\Sent" and listed.get("Trash") == "\\Trash" and
                  "INBOX" in listed, "mailboxes %r" % listed)

            opened = client.expect("opened")
            check(opened["exists"] == 2 and opened["uid_next"] == 3, "INBOX opened: %r" % opened)

            messages = client.expect("messages")["messages"]
            check([m["uid"] for m in messages] == [1, 2], "fetched %r" % messages)
            first, second = messages
            check(first["subject"] == "imapflow first" and first["from"] == ["frank@example.com"]
                  and first["message_id"] == "<flow-1@example.com>", "envelope %r" % first)
            check(first["source"].encode() == FIRST and second["source"].encode() == SECOND,
                  "sources %r" % messages)
            check(first["size"] == len(FIRST), "RFC822.SIZE %r" % first)
            check(first["part1"] == "First message for imapflow.\r\n", "BODY[1] %r" % first)
            check(first["flags"] == ["\\Seen"] and second["flags"] == [], "flags %r" % messages)

            flags = client.expect("flags")
            check(flags["flags"] == ["\\Answered", "\\Flagged"], "after STORE: %r" % flags)

            client.expect("idling")
            start = time.monotonic()
            deliver_to_inbox(srv, PUSHED)
            exists = client.expect("exists")
            latency = time.monotonic() - start
            check(exists["count"] == 3 and exists["prev_count"] == 2, "EXISTS %r" % exists)
            pushed = client.expect("new_message")
            check(pushed["subject"] == "delivered during IDLE" and pushed["uid"] == 3,
                  "pushed message %r" % pushed)
            client.expect("done")
            code = client.proc.wait(timeout=DEADLINE)
            check(code == 0, "client.mjs exit code %d" % code)
            # RFC 2177: the EXISTS came while idling, not as the answer to DONE.
            wire, at = client.transcript().splitlines(), 0
            for want in (" IDLE", "S: + ", "S: * 3 EXISTS", "C: DONE"):
                at = next((i for i in range(at, len(wire)) if want in wire[i]), None)
                check(at is not None, "no %r in order in the IDLE exchange:\n%s"
                      % (want, "\n".join(wire)))
            # The announcement has a second (RFC 2177 leaves it to the server;
            # packmail promises one); slack for a loaded machine.
            check(latency < 3.0, "EXISTS came %.2f s after the delivery" % latency)
            print("  %s: EXISTS pushed in %.3f s" % (mode, latency))
        finally:
            client.close()

        # imapflow's STORE is the server's state.
        imap.select("INBOX", readonly=True)
        typ, data = imap.fetch("1", "(FLAGS)")
        check(typ == "OK" and set(imaplib.ParseFlags(data[0])) == {b"\\Answered", b"\\Flagged"},
              "flags seen by imaplib: %r" % data)
        imap.logout()


def test_starttls(args, tmp):
    drive(args, tmp, "starttls")


def test_implicit_tls(args, tmp):
    drive(args, tmp, "tls")


if __name__ == "__main__":
    run_tests([test_starttls, test_implicit_tls])
