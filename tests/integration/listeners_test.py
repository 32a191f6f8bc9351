#!/usr/bin/env python3
"""packmaild's listeners, admin HTTP, TLS certificate and graceful shutdown,
seen from real clients."""

import os
import socket
import ssl
import time

from harness import (Server, check, first_line, free_port, http_get, run_tests, tls_context,
                     wait_for, DEADLINE)

IMAP_OK = b"* OK [CAPABILITY IMAP4rev1 "
POP3_OK = b"+OK "


def test_greetings_plain_and_tls(args, tmp):
    data = os.path.join(tmp, "data")
    with Server(args.packmaild, data).start().wait_ready() as srv:
        cafile = os.path.join(data, "tls", "cert.pem")
        got = first_line(srv.ports["imap"])
        check(got.startswith(IMAP_OK) and got.endswith(b"\r\n"), "imap greeting: %r" % got)
        got = first_line(srv.ports["pop3"])
        check(got.startswith(POP3_OK) and got.endswith(b"\r\n") and got.count(b"\r\n") == 1,
              "pop3 greeting: %r" % got)
        lmtp = first_line(srv.ports["lmtp"])
        check(lmtp.startswith(b"220 ") and lmtp.endswith(b" packmail LMTP ready\r\n"),
              "lmtp greeting: %r" % lmtp)
        # Implicit TLS, verified against the generated certificate for "localhost".
        got = first_line(srv.ports["imaps"], cafile)
        check(got.startswith(IMAP_OK), "imaps greeting over TLS: %r" % got)
        got = first_line(srv.ports["pop3s"], cafile)
        check(got.startswith(POP3_OK), "pop3s greeting over TLS: %r" % got)
        # Many connections at once are all served (one coroutine each).
        socks = [socket.create_connection(("127.0.0.1", srv.ports["imap"]), timeout=DEADLINE)
                 for _ in range(50)]
        for s in socks:
            got = b""
            while not got.endswith(b"\r\n"):
                chunk = s.recv(4096)
                check(chunk, "connection closed before the greeting")
                got += chunk
            check(got.startswith(IMAP_OK), "greeting: %r" % got)
            s.close()
        check(srv.terminate() == 0, "exit code after SIGTERM")


def test_plain_client_on_tls_port_is_dropped(args, tmp):
    with Server(args.packmaild, os.path.join(tmp, "data")).start().wait_ready() as srv:
        # A client speaking clear text to IMAPS gets no greeting, and the server
        # keeps serving others.
        with socket.create_connection(("127.0.0.1", srv.ports["imaps"]), timeout=DEADLINE) as s:
            s.sendall(b"a001 CAPABILITY\r\n")
            got = s.recv(4096)
            check(not got.startswith(b"*"), "clear-text reply on the TLS port: %r" % got)
        check(first_line(srv.ports["imap"]).startswith(IMAP_OK), "imap after bad TLS client")
        check(srv.terminate() == 0, "exit code")


def test_health_and_not_found(args, tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    with open(os.path.join(data, "users"), "w") as f:
        f.write("# two users\nalice:{PLAIN}a\nbob:{PLAIN}b\n")
    with Server(args.packmaild, data).start().wait_ready() as srv:
        status, body = http_get(srv.ports["admin"], "/health")
        check(status == 200, "status %d" % status)
        check(body["status"] == "ok" and body["users"] == 2 and body["version"],
              "body %r" % body)
        status, body = http_get(srv.ports["admin"], "/nope")
        check(status == 404 and "error" in body, "404: %d %r" % (status, body))
        check(srv.terminate() == 0, "exit code")


def test_sigterm_with_open_connections_exits_zero(args, tmp):
    with Server(args.packmaild, os.path.join(tmp, "data")).start().wait_ready() as srv:
        # Idle connections of every kind: a TLS client that never handshakes,
        # an admin keep-alive connection, a half-read plain connection.
        idle_tls = socket.create_connection(("127.0.0.1", srv.ports["imaps"]), timeout=DEADLINE)
        idle_admin = socket.create_connection(("127.0.0.1", srv.ports["admin"]), timeout=DEADLINE)
        idle_admin.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        check(idle_admin.recv(4096).startswith(b"HTTP/1.1 200"), "admin keep-alive reply")
        idle_pop = socket.create_connection(("127.0.0.1", srv.ports["pop3"]), timeout=DEADLINE)
        start = time.monotonic()
        code = srv.terminate(deadline=5.0)
        check(code == 0, "exit code %s" % code)
        check(time.monotonic() - start < 5.0, "shutdown took too long")
        log = srv.log_text()
        check("received SIGTERM" in log and "packmaild stopped" in log, "log:\n" + log)
        for s in (idle_tls, idle_admin, idle_pop):
            s.close()
        # The listeners are closed.
        try:
            socket.create_connection(("127.0.0.1", srv.ports["imap"]), timeout=2).close()
            raise AssertionError("imap still accepts after shutdown")
        except OSError:
            pass


def test_self_signed_certificate_created_then_reused(args, tmp):
    data = os.path.join(tmp, "data")
    cert = os.path.join(data, "tls", "cert.pem")
    key = os.path.join(data, "tls", "key.pem")
    with Server(args.packmaild, data).start().wait_ready() as srv:
        check(os.stat(key).st_mode & 0o777 == 0o600, "key mode %o" % os.stat(key).st_mode)
        with open(cert, "rb") as f:
            first = f.read()
        check("generated self-signed certificate" in srv.log_text(), "generation not logged")
        check(srv.terminate() == 0, "exit code")
    with Server(args.packmaild, data).start().wait_ready() as srv:
        with open(cert, "rb") as f:
            check(f.read() == first, "certificate was regenerated")
        check("using self-signed certificate" in srv.log_text(), "reuse not logged")
        check(first_line(srv.ports["pop3s"], cert).startswith(POP3_OK), "pop3s greeting")
        check(srv.terminate() == 0, "exit code")


def test_configured_certificate_is_served(args, tmp):
    # A certificate made by another packmaild's data dir, passed by flags.
    first = os.path.join(tmp, "first")
    with Server(args.packmaild, first).start().wait_ready() as srv:
        check(srv.terminate() == 0, "exit code")
    cert = os.path.join(first, "tls", "cert.pem")
    key = os.path.join(first, "tls", "key.pem")
    data = os.path.join(tmp, "data")
    with Server(args.packmaild, data, extra=["--tls-cert", cert, "--tls-key", key]).start().wait_ready() as srv:
        check(first_line(srv.ports["imaps"], cert).startswith(IMAP_OK), "imaps greeting")
        check(not os.path.exists(os.path.join(data, "tls")), "self-signed generated anyway")
        check(srv.terminate() == 0, "exit code")


def test_config_file_and_flag_precedence(args, tmp):
    data = os.path.join(tmp, "data")
    srv = Server(args.packmaild, data, ports={"imap": free_port(), "admin": free_port()})
    srv.args.remove("--log-level")
    srv.args.remove("debug")
    config = os.path.join(tmp, "packmail.toml")
    # The file turns four listeners off and moves IMAP; the flag for IMAP must
    # win over the file, the file over the defaults.
    with open(config, "w") as f:
        f.write('log_level = "debug"\n[listen]\nimap = "127.0.0.1:%d"\n'
                'imaps = "off"\npop3 = "off"\npop3s = "off"\nlmtp = "off"\n'
                'lmtp_socket = "off"\n' % free_port())
    srv.args += ["--config", config]
    with srv.start().wait_ready():
        ready = next(l for l in srv.log_text().splitlines() if "packmaild ready" in l)
        check(ready.endswith("imap 127.0.0.1:%d, admin 127.0.0.1:%d"
                             % (srv.ports["imap"], srv.ports["admin"])), ready)
        check(first_line(srv.ports["imap"]).startswith(IMAP_OK), "flag port serves imap")
        check(" debug " in srv.log_text(), "log_level from the file not applied")
        check(srv.terminate() == 0, "exit code")


def test_port_zero_is_logged(args, tmp):
    ports = {"imap": 0}
    srv = Server(args.packmaild, os.path.join(tmp, "data"), ports=ports,
                 extra=["--imaps", "off", "--pop3", "off", "--pop3s", "off", "--lmtp", "off",
                        "--admin", "off"])
    with srv.start():
        line = wait_for(lambda: next((l for l in srv.log_text().splitlines()
                                      if "packmaild ready" in l), None), "ready line")
        port = int(line.split("imap 127.0.0.1:")[1].split(",")[0].split()[0])
        check(port != 0, line)
        check(first_line(port).startswith(IMAP_OK), "greeting on the logged port")
        check(srv.terminate() == 0, "exit code")


if __name__ == "__main__":
    run_tests([
        test_greetings_plain_and_tls,
        test_plain_client_on_tls_port_is_dropped,
        test_health_and_not_found,
        test_sigterm_with_open_connections_exits_zero,
        test_self_signed_certificate_created_then_reused,
        test_configured_certificate_is_served,
        test_config_file_and_flag_precedence,
        test_port_zero_is_logged,
    ])
