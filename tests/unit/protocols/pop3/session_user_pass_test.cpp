// USER/PASS (RFC 1939 7), failed logins with their delays and the limit,
// and RFC 3206 AUTH response codes.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST_CASE("USER and PASS log in and open the INBOX", "[pop3][session][auth]") {
  test_server server;
  server.deliver("Subject: a\n\nhello\n");
  server.deliver("Subject: b\n\nworld!\n");
  client c(server);
  run(c, R"(
    C: USER Alice
    S: +OK Send the password
    C: PASS secret
    S: +OK Logged in; 2 messages (43 octets)
    C: USER alice
    S: -ERR Already logged in
    C: STAT
    S: +OK 2 43
  )");
  CHECK(c.delays().back() == 0ms);
}

TEST_CASE("PASS takes the rest of the line, spaces included", "[pop3][session][auth]") {
  test_server server;
  server.config.authenticate = [](std::string_view user,
                                  std::string_view password) -> std::optional<std::string> {
    if (user == "bob smith" && password == "two words ") return "bob";
    return std::nullopt;
  };
  client c(server);
  run(c, R"(
    C: USER bob smith
    S: +OK Send the password
    C: PASS two words 
    S: +OK Logged in; 0 messages (0 octets)
  )");
}

TEST_CASE("PASS needs USER right before it", "[pop3][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: PASS secret
    S: -ERR USER first
    C: USER alice
    S: +OK Send the password
    C: NOOP
    S: -ERR Not logged in; log in first
    C: PASS secret
    S: -ERR USER first
    C: USER
    S: -ERR USER needs a user name
    C: USER alice
    S: +OK Send the password
    C: PASS
    S: -ERR PASS needs a password
    C: PASS secret
    S: -ERR USER first
  )");
}

TEST_CASE("failed logins: AUTH code, growing delay, close after the limit",
          "[pop3][session][auth]") {
  test_server server;
  server.config.auth_failure_delay = 100ms;
  client c(server);
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: PASS wrong
    S: -ERR [AUTH] Authentication failed
  )");
  CHECK(c.delays().back() == 100ms);
  CHECK_FALSE(c.closed());
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: PASS wrong
    S: -ERR [AUTH] Authentication failed
  )");
  CHECK(c.delays().back() == 200ms);
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: PASS wrong
    S: -ERR [AUTH] Authentication failed; too many failures, closing
  )");
  CHECK(c.delays().back() == 400ms);
  CHECK(c.closed());
}

TEST_CASE("the delay holds back only the failed reply; pipelined commands follow",
          "[pop3][session][auth]") {
  test_server server;
  server.config.auth_failure_delay = 50ms;
  client c(server);
  const std::string out = c.send("USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS secret\r\n");
  check_lines(out, {"+OK Send the password", "-ERR [AUTH] Authentication failed",
                    "+OK Send the password", "+OK Logged in; {*}"});
  // One call up to the failure (delayed), one for the rest (not delayed).
  REQUIRE(c.delays().size() == 2);
  CHECK(c.delays()[0] == 50ms);
  CHECK(c.delays()[1] == 0ms);
}

TEST_CASE("max_auth_failures 1 closes at the first failure", "[pop3][session][auth]") {
  test_server server;
  server.config.max_auth_failures = 1;
  client c(server);
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: PASS wrong
    S: -ERR [AUTH] Authentication failed; too many failures, closing
  )");
  CHECK(c.closed());
  CHECK(c.delays().back() == milliseconds(2000));
}

TEST_CASE("the canonical name from the authenticator picks the maildrop", "[pop3][session][auth]") {
  test_server server;
  server.deliver("Subject: x\n\nbody\n");
  client c(server);
  run(c, R"(
    C: USER ALICE
    S: +OK Send the password
    C: PASS secret
    S: +OK Logged in; 1 messages (20 octets)
  )");
}

TEST_CASE("a store failure at login answers SYS/TEMP and stays logged out",
          "[pop3][session][auth]") {
  test_server server;
  server.store.fail_list_messages = packmail::storage::errc::temporary;
  client c(server);
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: PASS secret
    S: -ERR [SYS/TEMP] Temporary failure, try again later
    C: STAT
    S: -ERR Not logged in; log in first
  )");
  CHECK(c.delays().back() == 0ms);  // not an authentication failure
  server.store.fail_list_messages.reset();
  server.store.fail_ensure_user = packmail::storage::errc::internal;
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: PASS secret
    S: -ERR [SYS/PERM] Internal error
  )");
  server.store.fail_ensure_user.reset();
  login(c);
}

TEST_CASE("no authenticator: every login fails", "[pop3][session][auth]") {
  test_server server;
  server.config.authenticate = nullptr;
  client c(server);
  run(c, R"(
    C: USER alice
    S: +OK Send the password
    C: PASS secret
    S: -ERR [AUTH] Authentication failed
  )");
}

TEST_CASE("APOP is refused", "[pop3][session][auth]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: APOP alice c4c9334bac560ecc979e58001b3e22fb
    S: -ERR APOP is not supported; use USER/PASS or AUTH
  )");
}
