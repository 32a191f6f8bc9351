#!/usr/bin/env python3
"""packmaild refuses to start with one clear line on stderr and exit code 1."""

import os
import socket
import subprocess

from harness import DEADLINE, Server, check, free_port, run_tests


def run_expecting_failure(server, code=1):
    proc = subprocess.run(server.args, capture_output=True, timeout=DEADLINE)
    err = proc.stderr.decode()
    check(proc.returncode == code, "exit code %d (want %d), stderr:\n%s" % (proc.returncode, code, err))
    return err


def only_line(err):
    """The error: one line, the last on stderr (log lines may precede it)."""
    errors = [l for l in err.splitlines() if l.startswith("packmaild: ")]
    check(len(errors) == 1 and err.rstrip("\n").splitlines()[-1] == errors[0],
          "expected one error line at the end of stderr, got:\n" + err)
    return errors[0]


def test_second_instance_on_same_data_dir(args, tmp):
    data = os.path.join(tmp, "data")
    with Server(args.packmaild, data).start().wait_ready() as first:
        second = Server(args.packmaild, data)  # other ports, same data dir
        line = only_line(run_expecting_failure(second))
        check("data directory %s is locked by another packmaild (pid %d)" % (data, first.proc.pid)
              in line, line)
        check(first.proc.poll() is None, "the first instance died")
        check(first.terminate() == 0, "exit code")


def test_newer_format_refused(args, tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    with open(os.path.join(data, "FORMAT"), "w") as f:
        f.write("packmail-data 7\n")
    line = only_line(run_expecting_failure(Server(args.packmaild, data)))
    check(line.endswith("data directory %s has format version 7, newer than this packmaild (1)"
                        % data), line)


def test_format_written_on_first_start(args, tmp):
    data = os.path.join(tmp, "data")
    with Server(args.packmaild, data).start().wait_ready() as srv:
        with open(os.path.join(data, "FORMAT")) as f:
            check(f.read() == "packmail-data 1\n", "FORMAT content")
        check(srv.terminate() == 0, "exit code")


def test_port_in_use_refused(args, tmp):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        srv = Server(args.packmaild, os.path.join(tmp, "data"))
        srv.ports["imap"] = port
        srv.args[srv.args.index("--imap") + 1] = "127.0.0.1:%d" % port
        line = only_line(run_expecting_failure(srv))
        check(line.endswith("cannot listen on 127.0.0.1:%d (imap): Address already in use" % port),
              line)


def test_data_dir_is_a_file(args, tmp):
    path = os.path.join(tmp, "file")
    open(path, "w").close()
    line = only_line(run_expecting_failure(Server(args.packmaild, path)))
    check(path in line, line)


def test_unknown_config_key_named(args, tmp):
    config = os.path.join(tmp, "packmail.toml")
    with open(config, "w") as f:
        f.write("[limits]\nmax_conections = 5\n")
    srv = Server(args.packmaild, os.path.join(tmp, "data"), extra=["--config", config])
    line = only_line(run_expecting_failure(srv))
    check("'limits.max_conections'" in line and "unknown" in line, line)


def test_bad_listener_flag(args, tmp):
    srv = Server(args.packmaild, os.path.join(tmp, "data"), extra=["--lmtp", "localhost:24"])
    line = only_line(run_expecting_failure(srv))
    check(line.startswith("packmaild: --lmtp: invalid address 'localhost:24'"), line)


def test_unknown_flag_is_usage_error(args, tmp):
    proc = subprocess.run([args.packmaild, "--no-such-flag"], capture_output=True, timeout=DEADLINE)
    check(proc.returncode == 2, "exit code %d" % proc.returncode)


def test_broken_users_file_refused(args, tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    with open(os.path.join(data, "users"), "w") as f:
        f.write("alice:{PLAIN}a\nbob:{WHAT}b\n")
    line = only_line(run_expecting_failure(Server(args.packmaild, data)))
    check("users: line 2: unknown password scheme {WHAT}" in line, line)


if __name__ == "__main__":
    run_tests([
        test_second_instance_on_same_data_dir,
        test_newer_format_refused,
        test_format_written_on_first_start,
        test_port_in_use_refused,
        test_data_dir_is_a_file,
        test_unknown_config_key_named,
        test_bad_listener_flag,
        test_unknown_flag_is_usage_error,
        test_broken_users_file_refused,
    ])
