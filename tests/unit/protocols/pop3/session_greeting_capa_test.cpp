// The greeting and CAPA (RFC 2449 5) in both states.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;

TEST_CASE("greeting", "[pop3][session][capa]") {
  test_server server;
  client c(server);
  CHECK(c.greeting() == "+OK packmail POP3 ready\r\n");
  server.config.greeting = "mail.example.org POP3 here";
  client d(server);
  CHECK(d.greeting() == "+OK mail.example.org POP3 here\r\n");
}

TEST_CASE("CAPA before and after login", "[pop3][session][capa]") {
  test_server server;
  client c(server);
  run(c, R"(
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
  // RFC 2449 6.2, 6.3: USER and SASL are announced in both states.
  run(c, R"(
    C: capa
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
    C: CAPA now
    S: -ERR CAPA takes no arguments
  )");
}

TEST_CASE("CAPA offers STLS only before login on a clear connection", "[pop3][session][capa]") {
  test_server server;
  server.config.stls_available = true;
  client c(server);
  run(c, R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: USER
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: SASL PLAIN
    S: STLS
    S: IMPLEMENTATION packmail
    S: .
  )");
  login(c);
  run(c, R"(
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
  // Implicit TLS (pop3s): nothing to start.
  client tls(server, {"192.0.2.1", 40000, true, false});
  run(tls, R"(
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
}

TEST_CASE("CAPA without plaintext logins lists neither USER nor SASL", "[pop3][session][capa]") {
  test_server server;
  server.config.allow_plaintext_auth = false;
  server.config.stls_available = true;
  client c(server, {"192.0.2.1", 40000, false, false});
  run(c, R"(
    C: CAPA
    S: +OK Capability list follows
    S: TOP
    S: UIDL
    S: RESP-CODES
    S: AUTH-RESP-CODE
    S: PIPELINING
    S: STLS
    S: IMPLEMENTATION packmail
    S: .
    C: AUTH
    S: +OK Supported mechanisms follow
    S: .
  )");
}
