// AUTH PLAIN (RFC 5034, RFC 4616): initial response, the "+ " continuation,
// "*" to cancel, malformed responses, and failures with their delay.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;
using namespace std::chrono_literals;

// "\0alice\0secret", "alice\0alice\0secret", "\0alice\0wrong",
// "bob\0alice\0secret", "no nul here".
constexpr const char* k_alice = "AGFsaWNlAHNlY3JldA==";

TEST_CASE("AUTH PLAIN with an initial response", "[pop3][session][sasl]") {
  test_server server;
  client c(server);
  run(c, std::string(R"(
    C: AUTH PLAIN )") +
             k_alice + R"(
    S: +OK Logged in; 0 messages (0 octets)
    C: AUTH PLAIN
    S: -ERR Already logged in
  )");
}

TEST_CASE("AUTH PLAIN with the continuation, mechanism in any case", "[pop3][session][sasl]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: auth plain
    S: + 
    C: YWxpY2UAYWxpY2UAc2VjcmV0
    S: +OK Logged in; 0 messages (0 octets)
  )");
}

TEST_CASE("AUTH PLAIN split at every byte", "[pop3][session][sasl]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: AUTH PLAIN
    S: + 
    C: AGFsaWNlAHNlY3JldA==
    S: +OK Logged in; {*}
  )",
      true);
}

TEST_CASE("\"*\" cancels AUTH; the session goes on", "[pop3][session][sasl]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: AUTH PLAIN
    S: + 
    C: *
    S: -ERR Authentication cancelled
    C: STAT
    S: -ERR Not logged in; log in first
  )");
  CHECK(c.delays().back() == 0ms);
  login(c);
}

TEST_CASE("malformed base64 and PLAIN messages are refused without a penalty",
          "[pop3][session][sasl]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: AUTH PLAIN
    S: + 
    C: not base64!
    S: -ERR Invalid base64 in the PLAIN response
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA=
    S: -ERR Invalid base64 in the PLAIN response
    C: AUTH PLAIN A=FsaWNlAHNlY3JldA==
    S: -ERR Invalid base64 in the PLAIN response
    C: AUTH PLAIN bm8gbnVsIGhlcmU=
    S: -ERR Invalid PLAIN response
    C: AUTH PLAIN =
    S: -ERR Invalid PLAIN response
    C: AUTH PLAIN
    S: + 
    C:
    S: -ERR Invalid PLAIN response
  )");
  for (auto d : c.delays()) CHECK(d == 0ms);
  CHECK_FALSE(c.closed());
}

TEST_CASE("a wrong password or another authzid fails with AUTH and a delay",
          "[pop3][session][sasl]") {
  test_server server;
  server.config.auth_failure_delay = 10ms;
  client c(server);
  run(c, R"(
    C: AUTH PLAIN AGFsaWNlAHdyb25n
    S: -ERR [AUTH] Authentication failed
  )");
  CHECK(c.delays().back() == 10ms);
  run(c, R"(
    C: AUTH PLAIN
    S: + 
    C: Ym9iAGFsaWNlAHNlY3JldA==
    S: -ERR [AUTH] Authentication failed
  )");
  CHECK(c.delays().back() == 20ms);
  run(c, R"(
    C: AUTH PLAIN AGFsaWNlAHdyb25n
    S: -ERR [AUTH] Authentication failed; too many failures, closing
  )");
  CHECK(c.closed());
}

TEST_CASE("unknown mechanisms and extra arguments", "[pop3][session][sasl]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: AUTH CRAM-MD5
    S: -ERR Unsupported authentication mechanism
    C: AUTH PLAIN a b
    S: -ERR AUTH takes a mechanism and an initial response
    C: AUTH
    S: +OK Supported mechanisms follow
    S: PLAIN
    S: .
  )");
}

TEST_CASE("an over-long SASL line ends AUTH", "[pop3][session][sasl]") {
  test_server server;
  server.config.max_line = 64;
  client c(server);
  run(c, "C: AUTH PLAIN\nS: + \nC: " + std::string(100, 'A') +
             "\nS: -ERR Line too long\nC: STAT\nS: -ERR Not logged in; log in first\n");
}
