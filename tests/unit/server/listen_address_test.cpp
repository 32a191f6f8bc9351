#include "config/listen_address.h"

#include <catch2/catch.hpp>

using packmail::server::listen_address;
using packmail::server::listen_address_error;
using packmail::server::parse_listen_address;

TEST_CASE("IPv4 address and port") {
  const auto a = parse_listen_address("127.0.0.1:1143");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 1143);
  CHECK(a->to_string() == "127.0.0.1:1143");
}

TEST_CASE("bracketed IPv6 address") {
  const auto a = parse_listen_address("[::1]:993");
  REQUIRE(a);
  CHECK(a->host == "::1");
  CHECK(a->port == 993);
  CHECK(a->to_string() == "[::1]:993");
  CHECK(parse_listen_address("[::]:0")->port == 0);
}

TEST_CASE("off disables the listener") { CHECK_FALSE(parse_listen_address("off").has_value()); }

TEST_CASE("port 0 and 65535 are allowed") {
  CHECK(parse_listen_address("0.0.0.0:0")->port == 0);
  CHECK(parse_listen_address("0.0.0.0:65535")->port == 65535);
}

TEST_CASE("malformed addresses are rejected with the input named") {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":143", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:14x", "localhost:143", "256.0.0.1:143", "::1:143", "[::1]143",
                          "[::1", "[127.0.0.1]:143", "[]:143", "OFF", "127.0.0.1:143 "}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_listen_address(bad), listen_address_error);
  }
  CHECK_THROWS_WITH(parse_listen_address("127.0.0.1:99999"),
                    Catch::Contains("'127.0.0.1:99999'") && Catch::Contains("port"));
}
