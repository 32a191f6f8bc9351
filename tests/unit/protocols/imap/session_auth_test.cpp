// Greeting, CAPABILITY, NOOP, LOGOUT, LOGIN, AUTHENTICATE PLAIN (+SASL-IR),
// STARTTLS, and the state gatekeeper.
#include "session_script.h"

using namespace packmail::protocols::imap::testing;
namespace imap = packmail::protocols::imap;

TEST_CASE("greeting carries the capabilities", "[imap][session][auth]") {
  test_server server;
  client c(server);
  CHECK(c.greeting() ==
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN AUTH=LOGIN SASL-IR ENABLE IDLE UIDPLUS "
        "MOVE UNSELECT "
        "CHILDREN SPECIAL-USE NAMESPACE ID] packmail ready\r\n");
}

TEST_CASE("CAPABILITY, NOOP and LOGOUT before login", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 CAPABILITY
    S: * CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN AUTH=LOGIN SASL-IR ENABLE IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID
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
    S: a1 OK [CAPABILITY IMAP4rev1 LITERAL+ ENABLE IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID] Logged in
    C: a2 LOGIN alice secret
    S: a2 BAD Already logged in
    C: a3 CAPABILITY
    S: * CAPABILITY IMAP4rev1 LITERAL+ ENABLE IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID
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
    S: * CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN AUTH=LOGIN SASL-IR ENABLE IDLE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE NAMESPACE ID
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

TEST_CASE("AUTHENTICATE LOGIN asks for the user name and the password", "[imap][session][auth]") {
  test_server server;
  client c(server);
  // "alice", "secret"; "Username:" and "Password:" in base64.
  run(c, R"(
    C: a1 AUTHENTICATE LOGIN
    S: + VXNlcm5hbWU6
    C: YWxpY2U=
    S: + UGFzc3dvcmQ6
    C: *
    S: a1 BAD AUTHENTICATE cancelled
    C: a2 AUTHENTICATE LOGIN YWxpY2U=
    S: + UGFzc3dvcmQ6
    C: bm9wZQ==
    S: a2 NO [AUTHENTICATIONFAILED] Authentication failed
    C: a3 AUTHENTICATE LOGIN
    S: + VXNlcm5hbWU6
    C: YWxpY2U=
    S: + UGFzc3dvcmQ6
    C: c2VjcmV0
    S: a3 OK [CAPABILITY {*}] Logged in
  )");
}

TEST_CASE("failed logins are answered after a growing delay", "[imap][session][auth]") {
  test_server server;
  server.config.auth_failure_delay = std::chrono::milliseconds(100);
  server.config.max_auth_failures = 10;
  client c(server);
  using std::chrono::milliseconds;
  for (int i = 0; i < 6; ++i) c.send("a LOGIN alice wrong\r\n");
  const std::vector<milliseconds> expected{milliseconds(100),  milliseconds(200),
                                           milliseconds(400),  milliseconds(800),
                                           milliseconds(1600), milliseconds(1600)};
  CHECK(c.delays() == expected);
  c.send("b LOGIN alice secret\r\n");
  CHECK(c.delays().back() == milliseconds(0));
}

TEST_CASE("input pipelined after a failed login waits for the delayed reply",
          "[imap][session][auth]") {
  test_server server;
  client c(server);
  // One call per reply: the delay applies to the failure alone, and the login
  // after it is answered in the next call, without a delay.
  CHECK(c.send("a1 LOGIN alice wrong\r\na2 LOGIN alice secret\r\n") ==
        "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
        "a2 OK [CAPABILITY IMAP4rev1 LITERAL+ ENABLE IDLE UIDPLUS MOVE UNSELECT CHILDREN "
        "SPECIAL-USE NAMESPACE ID] Logged in\r\n");
  REQUIRE(c.delays().size() == 2);
  CHECK(c.delays()[0] == std::chrono::milliseconds(2000));
  CHECK(c.delays()[1] == std::chrono::milliseconds(0));
}

TEST_CASE("ENABLE is valid in the authenticated state only", "[imap][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: a1 ENABLE CONDSTORE
    S: a1 BAD Log in first
    C: a2 LOGIN alice secret
    S: a2 OK [CAPABILITY {*}] Logged in
    C: a3 ENABLE
    S: a3 BAD ENABLE needs a capability name
    C: a4 ENABLE CONDSTORE X-UNKNOWN
    S: * ENABLED
    S: a4 OK ENABLE completed
    C: a5 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 0 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 1] Predicted next UID
    S: a5 OK [READ-WRITE] SELECT completed
    C: a6 ENABLE CONDSTORE
    S: a6 BAD Command not allowed now
  )");
}

TEST_CASE("LITERAL- is advertised instead of LITERAL+ when configured", "[imap][session][auth]") {
  test_server server;
  server.config.limits.non_sync = imap::non_sync_literals::minus;
  client c(server);
  CHECK(c.greeting().find(" LITERAL- ") != std::string::npos);
  CHECK(c.greeting().find("LITERAL+") == std::string::npos);
  run(c, R"(
    C: a1 LOGIN alice {6+}
    C: secret
    S: a1 OK [CAPABILITY IMAP4rev1 LITERAL- ENABLE {*}] Logged in
    C: a2 CREATE {5000+}
    S: a2 BAD [TOOBIG] {*}
  )");
}

TEST_CASE("a long pipeline is answered in steps, in order", "[imap][session][auth]") {
  test_server server;
  server.config.max_pipelined_commands = 8;
  client c(server);
  std::string input, expected;
  for (int i = 0; i < 50; ++i) {
    input += "n" + std::to_string(i) + " NOOP\r\n";
    expected += "n" + std::to_string(i) + " OK NOOP completed\r\n";
  }
  CHECK(c.send(input) == expected);
  CHECK(c.more_calls() == 6);  // 50 commands, 8 per call
}
