#include "sessions/unavailable_session.h"

#include <catch2/catch.hpp>

using namespace packmail::server;

TEST_CASE("IMAP: BYE [UNAVAILABLE] and close") {
  unavailable_session s(protocol_kind::imap, "mx.example");
  const auto out = s.greeting();
  CHECK(out.bytes.starts_with("* BYE [UNAVAILABLE] "));
  CHECK(out.bytes.ends_with("\r\n"));
  CHECK(out.close);
  CHECK_FALSE(out.start_tls);
}

TEST_CASE("POP3: -ERR [SYS/TEMP] and close") {
  unavailable_session s(protocol_kind::pop3, "mx.example");
  const auto out = s.greeting();
  CHECK(out.bytes.starts_with("-ERR [SYS/TEMP] "));
  CHECK(out.bytes.ends_with("\r\n"));
  CHECK(out.close);
}

TEST_CASE("LMTP: 421 4.3.2 with the host name and close") {
  unavailable_session s(protocol_kind::lmtp, "mx.example");
  const auto out = s.greeting();
  CHECK(out.bytes == "421 4.3.2 mx.example Service not available\r\n");
  CHECK(out.close);
}

TEST_CASE("input and timeouts only close") {
  unavailable_session s(protocol_kind::imap, "h");
  auto in = s.on_input("a LOGIN x y\r\n");
  CHECK(in.bytes.empty());
  CHECK(in.close);
  CHECK(s.on_idle_timeout().close);
  CHECK(s.on_wake().bytes.empty());
  CHECK(s.idle_timeout() > std::chrono::seconds(0));
}

TEST_CASE("on_shutdown: the protocol's goodbye and close") {
  CHECK(unavailable_session(protocol_kind::imap, "h").on_shutdown().bytes ==
        "* BYE Server shutting down\r\n");
  CHECK(unavailable_session(protocol_kind::pop3, "h").on_shutdown().bytes ==
        "-ERR [SYS/TEMP] Server shutting down\r\n");
  const auto lmtp = unavailable_session(protocol_kind::lmtp, "mx.example").on_shutdown();
  CHECK(lmtp.bytes == "421 4.3.2 mx.example Server shutting down\r\n");
  CHECK(lmtp.close);
}

TEST_CASE("refusal_text: each protocol's standard refusal, for both limits") {
  using packmail::protocols::refusal_reason;
  for (const auto reason :
       {refusal_reason::too_many_connections, refusal_reason::too_many_connections_from_address}) {
    CHECK(refusal_text(protocol_kind::imap, reason) ==
          "* BYE [UNAVAILABLE] Too many connections\r\n");
    CHECK(refusal_text(protocol_kind::pop3, reason) == "-ERR [SYS/TEMP] Too many connections\r\n");
    CHECK(refusal_text(protocol_kind::lmtp, reason) == "421 4.7.0 Too many connections\r\n");
  }
}
