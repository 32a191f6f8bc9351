// The connection's edges: greeting, idle timeout, shutdown, refusal, and no
// asynchronous news.
#include "session_script.h"

using namespace packmail::protocols::lmtp::testing;
using namespace std::chrono_literals;
namespace protocols = packmail::protocols;
namespace lmtp = packmail::protocols::lmtp;

TEST_CASE("greeting and idle timeout", "[lmtp][session][connection]") {
  test_server server;
  client c(server);
  CHECK(c.greeting() == "220 mx.test packmail LMTP ready\r\n");
  CHECK(c.session().idle_timeout() == std::chrono::minutes(5));
  auto o = c.session().on_idle_timeout();
  CHECK(o.bytes == "421 4.4.2 mx.test Timeout\r\n");
  CHECK(o.close);

  server.config.idle_timeout = 30s;
  client d(server);
  CHECK(d.session().idle_timeout() == 30s);
}

TEST_CASE("shutdown in the middle of DATA says 421 4.3.2 and closes",
          "[lmtp][session][connection]") {
  test_server server;
  client c(server);
  lhlo(c);
  run(c, R"(
    C: MAIL FROM:<a@b>
    S: 250 2.1.0 OK
    C: RCPT TO:<alice>
    S: 250 2.1.5 OK
    C: DATA
    S: 354 {*}
    C: half a message
  )");
  auto o = c.session().on_shutdown();
  CHECK(o.bytes == "421 4.3.2 mx.test Server shutting down\r\n");
  CHECK(o.close);
  CHECK_FALSE(server.store->find_user("alice").ok());
}

TEST_CASE("input after QUIT or a timeout is ignored", "[lmtp][session][connection]") {
  test_server server;
  client c(server);
  (void)c.session().on_idle_timeout();
  auto o = c.session().on_input("NOOP\r\n");
  CHECK(o.bytes.empty());
  CHECK(o.close);
}

TEST_CASE("on_wake has nothing to say", "[lmtp][session][connection]") {
  test_server server;
  client c(server);
  auto o = c.session().on_wake();
  CHECK(o.bytes.empty());
  CHECK_FALSE(o.close);
}

TEST_CASE("refusal lines", "[lmtp][session][connection]") {
  CHECK(lmtp::refusal(protocols::refusal_reason::too_many_connections) ==
        "421 4.3.2 Too many connections\r\n");
  CHECK(lmtp::refusal(protocols::refusal_reason::too_many_connections_from_address) ==
        "421 4.3.2 Too many connections from your address\r\n");
}
