// STLS (RFC 2595 4) and plaintext logins without TLS (allow_plaintext_auth).
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;
using packmail::protocols::connection_info;

namespace {
const connection_info k_remote{"192.0.2.7", 40000, false, false};
const connection_info k_remote_tls{"192.0.2.7", 40000, true, false};
}  // namespace

TEST_CASE("STLS starts TLS and drops input sent after it", "[pop3][session][stls]") {
  test_server server;
  server.config.stls_available = true;
  client c(server, k_remote);
  // The USER after STLS came in clear text: it is never run.
  run(c, R"(
    C: STLS
    C: USER injected
    S: +OK Begin TLS negotiation
  )");
  CHECK(c.start_tls_requested());
  c.session().on_tls_started();
  run(c, R"(
    C: PASS secret
    S: -ERR USER first
    C: STLS
    S: -ERR Command not permitted when TLS active
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: USER
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: SASL PLAIN
    S: IMPLEMENTATION packmail
    S: .
  )");
  login(c);
}

TEST_CASE("USER given before STLS does not carry over", "[pop3][session][stls]") {
  test_server server;
  server.config.stls_available = true;
  client c(server, k_remote);
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: STLS
    S: +OK Begin TLS negotiation
  )");
  c.session().on_tls_started();
  run(c, "C: PASS secret\nS: -ERR USER first\n");
}

TEST_CASE("STLS when not available", "[pop3][session][stls]") {
  test_server server;
  client c(server, k_remote);
  run(c, R"(
    C: STLS
    S: -ERR STLS is not available
    C: STLS now
    S: -ERR STLS takes no arguments
  )");
  CHECK_FALSE(c.start_tls_requested());
  // Implicit TLS.
  server.config.stls_available = true;
  client tls(server, k_remote_tls);
  run(tls, "C: STLS\nS: -ERR Command not permitted when TLS active\n");
}

TEST_CASE("plaintext logins refused without TLS: STLS first", "[pop3][session][stls]") {
  test_server server;
  server.config.allow_plaintext_auth = false;
  server.config.stls_available = true;
  client c(server, k_remote);
  run(c, R"(
    C: USER alice
    S: -ERR [AUTH] Plaintext authentication is disabled without TLS; STLS first
    C: PASS secret
    S: -ERR USER first
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: -ERR [AUTH] Plaintext authentication is disabled without TLS; STLS first
    C: AUTH PLAIN
    S: -ERR [AUTH] Plaintext authentication is disabled without TLS; STLS first
    C: STLS
    S: +OK Begin TLS negotiation
  )");
  for (auto d : c.delays()) CHECK(d.count() == 0);
  c.session().on_tls_started();
  login(c);
}

TEST_CASE("plaintext refused and no STLS to offer", "[pop3][session][stls]") {
  test_server server;
  server.config.allow_plaintext_auth = false;
  client c(server, k_remote);
  run(c, R"(
    C: USER alice
    S: -ERR [AUTH] Plaintext authentication is disabled without TLS
  )");
}

TEST_CASE("loopback and implicit TLS may log in in plaintext", "[pop3][session][stls]") {
  test_server server;
  server.config.allow_plaintext_auth = false;
  client local(server);  // loopback
  login(local);
  client tls(server, k_remote_tls);
  login(tls, "bob");
}
