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

TEST_CASE("only sessions made from one config or its copies exclude each other",
          "[pop3][session][in-use]") {
  using packmail::protocols::pop3::session_config;
  test_server server;  // every session below works on this one store
  client first(server);
  login(first);
  // A copy of the config shares its registry.
  const session_config copy = server.config;
  client from_copy(copy);
  expect_in_use(from_copy);
  // A config made afresh has a registry of its own.
  session_config fresh;
  fresh.store = server.config.store;
  fresh.authenticate = server.config.authenticate;
  client from_fresh(fresh);
  login(from_fresh);
  // No registry: each session makes its own, even from one config.
  session_config no_locks = server.config;
  no_locks.locks = nullptr;
  client own_first(no_locks);
  login(own_first);
  client own_second(no_locks);
  login(own_second);
  CHECK(server.config.locks->size() == 1);
  CHECK(fresh.locks->size() == 1);
  // The shared registry frees the maildrop when its holder leaves.
  run(first, "C: QUIT\nS: +OK Logging out; 0 messages deleted\n");
  login(from_copy);
}
