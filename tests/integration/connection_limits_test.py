#!/usr/bin/env python3
"""packmaild's connection limits (limits.max_connections and
limits.max_connections_per_ip) seen from real clients, and SIGTERM arriving
during start-up."""

import os
import signal
import socket
import subprocess

from harness import (DEADLINE, Server, check, first_line, http_get, plain_greeting, run_tests,
                     server_with_users, wait_for)

REFUSALS = {
    "imap": b"* BYE [UNAVAILABLE] Too many connections\r\n",
    "pop3": b"-ERR [SYS/TEMP] Too many connections\r\n",
    "lmtp": b"421 4.3.2 Too many connections\r\n",
}
IMAP_GREETING = b"* OK [CAPABILITY IMAP4rev1 "
POP3_GREETING = b"+OK packmail POP3 ready\r\n"


def limited_server(args, tmp, max_connections, max_per_ip):
    return server_with_users(args, tmp, users=(), config=(
        "[limits]\nmax_connections = %d\nmax_connections_per_ip = %d\n"
        % (max_connections, max_per_ip)))


def connect(port, source="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE,
                                    source_address=(source, 0))


def open_connections(srv):
    """The server's count of open client connections (GET /health)."""
    status, body = http_get(srv.ports["admin"], "/health")
    check(status == 200, "health status %d" % status)
    return body["connections"]


def wait_open(srv, n):
    wait_for(lambda: open_connections(srv) == n, "%d open connections" % n)


def hold(srv, n, source="127.0.0.1"):
    """n connections that stay open and counted: TLS connections that never
    handshake (the placeholder sessions close right after their greeting)."""
    wait_open(srv, 0)  # the readiness probes are gone
    socks = [connect(srv.ports["imaps"], source) for _ in range(n)]
    wait_open(srv, n)
    return socks


def test_total_limit_refuses_then_accepts_after_a_close(args, tmp):
    with limited_server(args, tmp, 3, 100).start().wait_ready() as srv:
        held = hold(srv, 3)
        # The N+1th is refused on every plain listener, with that protocol's
        # refusal, from any address.
        got = plain_greeting(srv.ports["imap"])
        check(got == REFUSALS["imap"], "imap refusal: %r" % got)
        for name in ("pop3", "lmtp"):
            got = plain_greeting(srv.ports[name], "127.0.0.2")
            check(got == REFUSALS[name], "%s refusal: %r" % (name, got))
        # Implicit TLS: closed without a handshake, nothing sent.
        check(plain_greeting(srv.ports["pop3s"]) == b"", "pop3s sent something over the limit")
        check(open_connections(srv) == 3, "refused connections counted")
        # (The admin API, used above, has its own limit.)

        held.pop().close()
        wait_open(srv, 2)
        check(first_line(srv.ports["imap"]).startswith(IMAP_GREETING), "imap after a release")
        wait_open(srv, 2)
        check(first_line(srv.ports["pop3"]) == POP3_GREETING, "pop3 after a release")
        log = srv.log_text()
        check("refused connection from 127.0.0.1:" in log and
              "too many connections (limit 3)" in log, "refusal not logged:\n" + log)
        for s in held:
            s.close()
        wait_open(srv, 0)
        check(srv.terminate() == 0, "exit code")


def test_per_ip_limit_refuses_that_address_only(args, tmp):
    with limited_server(args, tmp, 100, 2).start().wait_ready() as srv:
        held = hold(srv, 2)
        for name in ("imap", "lmtp"):
            got = plain_greeting(srv.ports[name])
            want = REFUSALS[name].replace(b"\r\n", b" from your address\r\n")
            check(got == want, "%s refusal: %r" % (name, got))
        # Another address is served.
        check(first_line(srv.ports["imap"], source="127.0.0.2").startswith(IMAP_GREETING),
              "127.0.0.2 refused")
        held.pop().close()
        wait_open(srv, 1)
        check(first_line(srv.ports["pop3"]) == POP3_GREETING, "pop3 after a release")
        check("too many connections from this address (limit 2)" in srv.log_text(),
              "per-address refusal not logged")
        for s in held:
            s.close()
        wait_open(srv, 0)
        check(srv.terminate() == 0, "exit code")


def test_refusal_log_is_rate_limited(args, tmp):
    with limited_server(args, tmp, 1, 1).start().wait_ready() as srv:
        held = hold(srv, 1)
        for _ in range(50):
            check(plain_greeting(srv.ports["pop3"]) == REFUSALS["pop3"], "pop3 refusal")
        lines = [l for l in srv.log_text().splitlines() if "refused connection" in l]
        # One line per 10 s (a slow machine might cross one boundary), at warn level.
        check(1 <= len(lines) <= 2, "refusal log lines:\n" + "\n".join(lines))
        check(all(" warning " in l for l in lines), "\n".join(lines))
        held[0].close()
        check(srv.terminate() == 0, "exit code")


def run_until_exit(srv):
    try:
        return srv.proc.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        raise AssertionError("packmaild did not exit after an early SIGTERM:\n" + srv.log_text())


def test_sigterm_pending_from_exec_exits_zero(args, tmp):
    # The signal is sent right after exec, before packmaild's main() has run:
    # the child starts with SIGTERM blocked (the mask survives exec), so the
    # signal is pending from the first instruction, as if it had arrived then.
    srv = Server(args.packmaild, os.path.join(tmp, "data"))
    srv.log = open(srv.log_path, "wb")
    with srv:
        srv.proc = subprocess.Popen(
            srv.args, stdout=srv.log, stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}))
        srv.proc.send_signal(signal.SIGTERM)
        code = run_until_exit(srv)
        log = srv.log_text()
        check(code == 0, "exit code %s:\n%s" % (code, log))
        check("received SIGTERM" in log and "packmaild stopped" in log, "log:\n" + log)


def test_sigterm_during_startup_exits_zero(args, tmp):
    # main() is running (it logged), the store and listeners may not be up.
    with Server(args.packmaild, os.path.join(tmp, "data")).start() as srv:
        wait_for(lambda: "starting" in srv.log_text(), "packmaild to start")
        srv.proc.send_signal(signal.SIGTERM)
        code = run_until_exit(srv)
        log = srv.log_text()
        check(code == 0, "exit code %s:\n%s" % (code, log))
        check("received SIGTERM" in log and "packmaild stopped" in log, "log:\n" + log)


def test_sigint_during_startup_exits_zero(args, tmp):
    with Server(args.packmaild, os.path.join(tmp, "data")).start() as srv:
        wait_for(lambda: "starting" in srv.log_text(), "packmaild to start")
        srv.proc.send_signal(signal.SIGINT)
        code = run_until_exit(srv)
        check(code == 0, "exit code %s:\n%s" % (code, srv.log_text()))
        check("received SIGINT" in srv.log_text(), "log:\n" + srv.log_text())


if __name__ == "__main__":
    run_tests([
        test_total_limit_refuses_then_accepts_after_a_close,
        test_per_ip_limit_refuses_that_address_only,
        test_refusal_log_is_rate_limited,
        test_sigterm_pending_from_exec_exits_zero,
        test_sigterm_during_startup_exits_zero,
        test_sigint_during_startup_exits_zero,
    ])
