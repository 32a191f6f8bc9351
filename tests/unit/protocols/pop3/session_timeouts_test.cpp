// Timeouts (RFC 1939 3: the autologout timer is at least 10 minutes), the
// shutdown goodbye, on_wake, and the refusal lines.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;
using namespace std::chrono_literals;
namespace pop3 = packmail::protocols::pop3;
using packmail::protocols::refusal_reason;

TEST_CASE("login_timeout before login, idle_timeout after", "[pop3][session][timeout]") {
  test_server server;
  pop3::session_config defaults;
  CHECK(defaults.idle_timeout == 10min);
  CHECK(defaults.login_timeout == 60s);
  CHECK(defaults.max_auth_failures == 3);
  CHECK(defaults.auth_failure_delay == 2s);
  CHECK(defaults.greeting == "packmail POP3 ready");
  server.config.login_timeout = 30s;
  server.config.idle_timeout = 15min;
  client c(server);
  CHECK(c.session().idle_timeout() == 30s);
  login(c);
  CHECK(c.session().idle_timeout() == 15min);
}

TEST_CASE("an idle timeout answers -ERR and closes", "[pop3][session][timeout]") {
  test_server server;
  client c(server);
  auto o = c.session().on_idle_timeout();
  CHECK(o.bytes == "-ERR Disconnected for inactivity\r\n");
  CHECK(o.close);
  client d(server);
  login(d);
  o = d.session().on_idle_timeout();
  CHECK(o.bytes == "-ERR Disconnected for inactivity\r\n");
  CHECK(o.close);
}

TEST_CASE("shutdown answers SYS/TEMP and closes", "[pop3][session][timeout]") {
  test_server server;
  client c(server);
  login(c);
  auto o = c.session().on_shutdown();
  CHECK(o.bytes == "-ERR [SYS/TEMP] Server shutting down\r\n");
  CHECK(o.close);
}

TEST_CASE("on_wake has nothing to say", "[pop3][session][timeout]") {
  test_server server;
  client c(server);
  login(c);
  server.deliver("Subject: a\n\nx\n");
  auto o = c.session().on_wake();
  CHECK(o.bytes.empty());
  CHECK_FALSE(o.close);
}

TEST_CASE("refusal lines", "[pop3][session][timeout]") {
  CHECK(pop3::refusal(refusal_reason::too_many_connections) ==
        "-ERR [SYS/TEMP] Too many connections\r\n");
  CHECK(pop3::refusal(refusal_reason::too_many_connections_from_address) ==
        "-ERR [SYS/TEMP] Too many connections from your address\r\n");
}
