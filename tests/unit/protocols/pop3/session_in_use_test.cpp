// One POP3 session per maildrop (RFC 1939 8, RFC 2449 8.1.2 IN-USE): the
// lock is taken at login and released however the session ends.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;
using namespace std::chrono_literals;

namespace {

void expect_in_use(client& c, std::string_view user = "alice") {
  run(c, "C: USER " + std::string(user) +
             "\nS: +OK Send the password\nC: PASS secret\n"
             "S: -ERR [IN-USE] Maildrop is locked by another POP3 session\n");
}

}  // namespace

TEST_CASE("a second session gets IN-USE until the first QUITs", "[pop3][session][in-use]") {
  test_server server;
  client first(server);
  login(first);
  client second(server);
  expect_in_use(second);
  CHECK(second.delays().back() == 0ms);  // not an authentication failure
  // Still in AUTHORIZATION: it may try again.
  run(second, "C: STAT\nS: -ERR Not logged in; log in first\n");
  run(first, "C: QUIT\nS: +OK Logging out; 0 messages deleted\n");
  login(second);
}

TEST_CASE("the same maildrop under another spelling of the name", "[pop3][session][in-use]") {
  test_server server;
  client first(server);
  login(first, "alice");
  client second(server);
  expect_in_use(second, "ALICE");
  // Other users are not affected.
  client bob(server);
  login(bob, "bob");
}

TEST_CASE("the lock goes when the session is destroyed without QUIT", "[pop3][session][in-use]") {
  test_server server;
  client first(server);
  login(first);
  CHECK(server.config.locks->size() == 1);
  first.drop();
  CHECK(server.config.locks->size() == 0);
  client second(server);
  login(second);
}

TEST_CASE("the lock goes at an idle timeout and at shutdown", "[pop3][session][in-use]") {
  test_server server;
  client first(server);
  login(first);
  (void)first.session().on_idle_timeout();
  CHECK(server.config.locks->size() == 0);
  client second(server);
  login(second);
  (void)second.session().on_shutdown();
  client third(server);
  login(third);
}

TEST_CASE("AUTH PLAIN gets IN-USE too", "[pop3][session][in-use]") {
  test_server server;
  client first(server);
  login(first);
  client second(server);
  run(second, R"(
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: -ERR [IN-USE] Maildrop is locked by another POP3 session
  )");
}

TEST_CASE("sessions with separate configs share nothing unless given one registry",
          "[pop3][session][in-use]") {
  test_server server;
  auto shared = server.config.locks;
  packmail::protocols::pop3::session_config other = server.config;  // copy: same registry
  CHECK(other.locks == shared);
  packmail::protocols::pop3::session_config fresh;
  CHECK(fresh.locks != nullptr);
  CHECK(fresh.locks != shared);
}
