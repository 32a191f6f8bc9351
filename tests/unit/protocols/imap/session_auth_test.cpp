// Greeting, CAPABILITY, NOOP, LOGOUT, LOGIN, AUTHENTICATE PLAIN (+SASL-IR),
// STARTTLS, and the state gatekeeper.
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace imap = packmail::protocols::imap;

TEST_CASE("greeting carries the capabilities", "[imap][session][auth]") {
  test_server server;
  client c(server);
  CHECK(c.greeting() ==
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN SASL-IR IDLE UIDPLUS MOVE UNSELECT "
        "CHILDREN SPECIAL-USE NAMESPACE ID] packmail ready\r\n");
}

TEST_CASE("CAPABILITY, NOOP and LOGOUT before login", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 CAPABILITY
    S: * CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN SASL-IR IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID
    S: a1 OK CAPABILITY completed
    C: a2 NOOP
    S: a2 OK NOOP completed
    C: a3 noop extra
    S: a3 BAD NOOP takes no arguments
    C: a4 LOGOUT
    S: * BYE Logging out
    S: a4 OK LOGOUT completed
  )");
  CHECK(c.closed());
}

TEST_CASE("LOGIN succeeds, then capabilities drop AUTH=", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 LOGIN Alice "secret"
    S: a1 OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID] Logged in
    C: a2 LOGIN alice secret
    S: a2 BAD Already logged in
    C: a3 CAPABILITY
    S: * CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID
    S: a3 OK CAPABILITY completed
  )");
  CHECK(server.store->find_user("alice").ok());
}

TEST_CASE("LOGIN with a literal password gets a continuation", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 LOGIN alice {6}
    S: + Ready
    C: secret
    S: a1 OK [CAPABILITY {*}] Logged in
  )");
}

TEST_CASE("failed logins answer AUTHENTICATIONFAILED and close after three",
          "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 LOGIN alice wrong
    S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
    C: a2 LOGIN alice wrong
    S: a2 NO [AUTHENTICATIONFAILED] Authentication failed
    C: a3 LOGIN alice wrong
    S: * BYE Too many authentication failures
    S: a3 NO [AUTHENTICATIONFAILED] Authentication failed
  )");
  CHECK(c.closed());
}

TEST_CASE("commands need the right state", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 SELECT INBOX
    S: a1 BAD Log in first
    C: a2 FETCH 1 FLAGS
    S: a2 BAD Log in first
    C: a3 FROBNICATE
    S: a3 BAD Unknown command
    C: a4 LOGIN alice secret
    S: a4 OK [CAPABILITY {*}] Logged in
    C: a5 FETCH 1 FLAGS
    S: a5 BAD No mailbox selected
    C: a6 CLOSE
    S: a6 BAD No mailbox selected
    C: a7 AUTHENTICATE PLAIN
    S: a7 BAD Already logged in
  )");
}

TEST_CASE("AUTHENTICATE PLAIN with an initial response (SASL-IR)", "[imap][session][auth]") {
  test_server server;
  client c(server);
  // "\0alice\0secret"
  run(c, R"(
    C: a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
    S: a1 OK [CAPABILITY {*}] Logged in
  )");
}

TEST_CASE("AUTHENTICATE PLAIN with a continuation, a cancel, and bad data",
          "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 AUTHENTICATE PLAIN
    S: +{*}
    C: *
    S: a1 BAD AUTHENTICATE cancelled
    C: a2 AUTHENTICATE PLAIN
    S: +{*}
    C: !!!notbase64
    S: a2 BAD Invalid base64
    C: a3 AUTHENTICATE CRAM-MD5
    S: a3 NO [CANNOT] Unsupported mechanism
    C: a4 AUTHENTICATE PLAIN
    S: +{*}
    C: YWxpY2UAYWxpY2UAc2VjcmV0
    S: a4 OK [CAPABILITY {*}] Logged in
  )");
}

TEST_CASE("AUTHENTICATE PLAIN with a wrong password and another authzid", "[imap][session][auth]") {
  test_server server;
  client c(server);
  // "\0alice\0nope", then "bob\0alice\0secret"
  run(c, R"(
    C: a1 AUTHENTICATE PLAIN AGFsaWNlAG5vcGU=
    S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
    C: a2 AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==
    S: a2 NO [AUTHENTICATIONFAILED] Authentication failed
  )");
}

TEST_CASE("plaintext authentication can be disabled without TLS", "[imap][session][auth]") {
  test_server server;
  server.config.allow_plaintext_auth = false;
  server.config.starttls_available = true;
  client c(server, {"192.0.2.1", 1234, false, false});
  CHECK(c.greeting().find("STARTTLS LOGINDISABLED") != std::string::npos);
  run(c, R"(
    C: a1 LOGIN alice secret
    S: a1 NO [PRIVACYREQUIRED] LOGIN is disabled without TLS
    C: a2 STARTTLS
    S: a2 OK Begin TLS negotiation now
  )");
  CHECK(c.start_tls_requested());
  c.session().on_tls_started();
  run(c, R"(
    C: a3 CAPABILITY
    S: * CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN SASL-IR IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID
    S: a3 OK CAPABILITY completed
    C: a4 LOGIN alice secret
    S: a4 OK [CAPABILITY {*}] Logged in
  )");
}

TEST_CASE("input pipelined after STARTTLS is dropped", "[imap][session][auth]") {
  test_server server;
  server.config.starttls_available = true;
  client c(server);
  CHECK(c.send("a1 STARTTLS\r\na2 LOGIN alice secret\r\n") ==
        "a1 OK Begin TLS negotiation now\r\n");
  c.session().on_tls_started();
  run(c, "C: a3 NOOP\nS: a3 OK NOOP completed\n");
}

TEST_CASE("STARTTLS is refused when not offered", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, "C: a1 STARTTLS\nS: a1 BAD STARTTLS not available\n");
}

TEST_CASE("shutdown, idle timeout and refusals say BYE", "[imap][session][auth]") {
  test_server server;
  {
    client c(server);
    auto o = c.session().on_shutdown();
    CHECK(o.bytes == "* BYE Server shutting down\r\n");
    CHECK(o.close);
  }
  {
    client c(server);
    CHECK(c.session().idle_timeout() == server.config.login_timeout);
    login(c);
    CHECK(c.session().idle_timeout() == server.config.idle_timeout);
    auto o = c.session().on_idle_timeout();
    CHECK(o.bytes == "* BYE Autologout; idle for too long\r\n");
    CHECK(o.close);
  }
  CHECK(imap::refusal(packmail::protocols::refusal_reason::too_many_connections) ==
        "* BYE [UNAVAILABLE] Too many connections\r\n");
}

TEST_CASE("a transcript fed one byte at a time gives the same answers", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 LOGIN alice {6}
    S: + Ready
    C: secret
    S: a1 OK [CAPABILITY {*}] Logged in
    C: a2 NOOP
    S: a2 OK NOOP completed
  )",
      true);
}

TEST_CASE("ID answers with the server name", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 ID NIL
    S: * ID ("name" "packmail")
    S: a1 OK ID completed
    C: a2 ID ("name" "sodr" "version" NIL)
    S: * ID ("name" "packmail")
    S: a2 OK ID completed
    C: a3 ID ("name")
    S: a3 BAD Invalid ID parameter list
    C: a4 ID
    S: a4 BAD ID needs NIL or a parameter list
  )");
}
