#!/usr/bin/env python3
"""packmailctl user add/passwd/del/list, and packmaild picking the changes up
without a restart."""

import os
import select
import subprocess
import time

from harness import DEADLINE, Server, check, http_get, run_tests, wait_for


def ctl(args, *argv, password=None, code=0):
    proc = subprocess.run([args.packmailctl, *argv], input=(password or "").encode(),
                          capture_output=True, timeout=DEADLINE)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    check(proc.returncode == code, "packmailctl %s: exit %d (want %d)\nstdout: %s\nstderr: %s"
          % (" ".join(argv), proc.returncode, code, out, err))
    return out, err


def read(path):
    with open(path) as f:
        return f.read()


def test_add_passwd_del_list(args, tmp):
    users = os.path.join(tmp, "etc", "users")
    ctl(args, "user", "add", "alice", "--users", users, "--password-stdin", password="s3cret\n")
    ctl(args, "user", "add", "bob", "--users", users, "--password-stdin", "--scheme",
        "SHA512-CRYPT", password="pw")
    check(os.stat(users).st_mode & 0o777 == 0o600, "mode %o" % os.stat(users).st_mode)
    text = read(users)
    check("alice:{ARGON2ID}$argon2id$" in text, text)  # the default scheme
    check("bob:{SHA512-CRYPT}$6$" in text, text)
    check("s3cret" not in text, "clear-text password in the file")
    out, _ = ctl(args, "user", "list", "--users", users)
    check(out.split() == ["alice", "bob"], out)

    before = read(users)
    ctl(args, "user", "passwd", "BOB", "--users", users, "--password-stdin", password="new\n")
    after = read(users)
    check(after != before and after.startswith(before.splitlines()[0]), after)

    ctl(args, "user", "del", "alice", "--users", users)
    out, _ = ctl(args, "user", "list", "--users", users)
    check(out.split() == ["bob"], out)


def test_exit_codes(args, tmp):
    users = os.path.join(tmp, "users")
    ctl(args, "user", "add", "alice", "--users", users, "--password-stdin", "--scheme", "PLAIN",
        password="a")
    # 3: the user exists / does not exist (also in another case).
    _, err = ctl(args, "user", "add", "ALICE", "--users", users, "--password-stdin",
                 password="b", code=3)
    check("exists" in err, err)
    _, err = ctl(args, "user", "del", "carol", "--users", users, code=3)
    check("no such user" in err, err)
    ctl(args, "user", "passwd", "carol", "--users", users, "--password-stdin", password="x",
        code=3)
    # 2: usage.
    ctl(args, "user", code=2)
    ctl(args, "user", "add", code=2)
    ctl(args, "user", "frobnicate", "x", code=2)
    ctl(args, "user", "add", "x", "--users", users, "--scheme", "MD5", "--password-stdin",
        password="x", code=2)
    ctl(args, "user", "add", "a:b", "--users", users, "--password-stdin", password="x", code=2)
    ctl(args, "user", "list", "--users", users, "--data-dir", tmp, code=2)
    # Without a terminal and without --password-stdin there is no way to ask.
    _, err = ctl(args, "user", "add", "dave", "--users", users, code=2)
    check("--password-stdin" in err, err)
    # 1: errors.
    _, err = ctl(args, "user", "add", "erin", "--users", users, "--password-stdin",
                 password="\n", code=1)
    check("empty password" in err, err)
    _, err = ctl(args, "user", "add", "erin", "--users", users, "--password-stdin", password="",
                 code=1)
    check("no password" in err, err)
    with open(users, "a") as f:
        f.write("broken\n")
    _, err = ctl(args, "user", "add", "frank", "--users", users, "--password-stdin",
                 password="x", code=1)
    check("line 2" in err, err)
    check(read(users).endswith("broken\n") and "frank" not in read(users), "file changed")


def prompt_on_tty(args, argv, answers):
    """Runs packmailctl with a pseudo-terminal as stdin, answering each prompt
    (seen on stderr) with the next answer. Returns (exit code, what the
    terminal showed, stderr)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([args.packmailctl, *argv], stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    os.close(slave)
    err = b""
    try:
        for answer in answers:
            end = time.monotonic() + DEADLINE
            while not err.rstrip().endswith(b"assword:"):
                left = end - time.monotonic()
                check(left > 0 and select.select([proc.stderr], [], [], left)[0],
                      "no prompt; stderr: %r" % err)
                chunk = os.read(proc.stderr.fileno(), 1024)
                check(chunk, "stderr closed before the prompt: %r" % err)
                err += chunk
            err += b"|"  # answered: wait for the next prompt
            os.write(master, answer.encode() + b"\n")
        code = proc.wait(timeout=DEADLINE)
        err += proc.stderr.read()
        shown = b""
        while select.select([master], [], [], 0)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        return code, shown, err.decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_password_prompt_without_echo(args, tmp):
    users = os.path.join(tmp, "users")
    code, shown, err = prompt_on_tty(args, ["user", "add", "tty", "--users", users],
                                     ["Sw0rdfish!", "Sw0rdfish!"])
    check(code == 0, "exit %d, stderr %s" % (code, err))
    check(b"Sw0rdfish" not in shown, "the password was echoed: %r" % shown)
    check("Password:" in err and "Retype password:" in err, err)
    check(read(users).startswith("tty:{ARGON2ID}$argon2id$"), read(users))
    # Two different answers: refused, nothing written.
    code, _, err = prompt_on_tty(args, ["user", "passwd", "tty", "--users", users],
                                 ["one", "two"])
    check(code == 1 and "do not match" in err, "exit %d, stderr %s" % (code, err))


def test_data_dir_option(args, tmp):
    data = os.path.join(tmp, "data")
    ctl(args, "user", "add", "demo", "--data-dir", data, "--password-stdin", password="demo")
    check(read(os.path.join(data, "users")).startswith("demo:{ARGON2ID}"), "users file")


def test_server_sees_changes_without_restart(args, tmp):
    data = os.path.join(tmp, "data")
    ctl(args, "user", "add", "alice", "--data-dir", data, "--password-stdin", password="a")
    with Server(args.packmaild, data).start().wait_ready() as srv:
        def users():
            return http_get(srv.ports["admin"], "/health")[1]["users"]
        check(users() == 1, "users at start")
        ctl(args, "user", "add", "bob", "--data-dir", data, "--password-stdin", password="b")
        wait_for(lambda: users() == 2, "/health to count 2 users")
        ctl(args, "user", "del", "alice", "--data-dir", data)
        wait_for(lambda: users() == 1, "/health to count 1 user")
        # A broken file keeps the last good table and logs the line.
        with open(os.path.join(data, "users"), "a") as f:
            f.write("nonsense\n")
        # (The file is checked on lookup: /health is one.)
        wait_for(lambda: users() == 1 and "users: line 2:" in srv.log_text(),
                 "the broken line to be logged")
        check(users() == 1, "table lost after a broken edit")
        check(srv.terminate() == 0, "exit code")


if __name__ == "__main__":
    run_tests([
        test_add_passwd_del_list,
        test_exit_codes,
        test_password_prompt_without_echo,
        test_data_dir_option,
        test_server_sees_changes_without_restart,
    ])
