// base64_decode (protocols/common/base64.h): RFC 4648 4 with padding, as the
// SASL exchanges of IMAP and POP3 use it; anything malformed is refused.
#include "common/base64.h"

#include <catch2/catch.hpp>

#include <string>

using packmail::protocols::base64_decode;
using namespace std::string_literals;

TEST_CASE("base64 decodes whole quanta", "[base64]") {
  CHECK(base64_decode("Zm9v") == "foo");
  CHECK(base64_decode("Zm9vYmFy") == "foobar");
  // RFC 4616 PLAIN: NUL authcid NUL passwd.
  CHECK(base64_decode("AGFsaWNlAHNlY3JldA==") == "\0alice\0secret"s);
  // The whole alphabet, '+' and '/' included.
  CHECK(base64_decode("+/+/") == "\xfb\xff\xbf"s);
  CHECK(base64_decode("AAAA") == "\0\0\0"s);
}

TEST_CASE("base64 padding ends the last quantum, one or two '='", "[base64]") {
  CHECK(base64_decode("Zg==") == "f");
  CHECK(base64_decode("Zm8=") == "fo");
  CHECK(base64_decode("Zm9vYg==") == "foob");
  CHECK(base64_decode("Zm9vYmE=") == "fooba");
  // Padding anywhere else is malformed.
  CHECK_FALSE(base64_decode("===="));
  CHECK_FALSE(base64_decode("Z==="));
  CHECK_FALSE(base64_decode("Zg=A"));
  CHECK_FALSE(base64_decode("Zg==Zm9v"));
  CHECK_FALSE(base64_decode("Zm=v"));
}

TEST_CASE("base64 refuses characters outside the alphabet", "[base64]") {
  CHECK_FALSE(base64_decode("Zm9v!A=="));
  CHECK_FALSE(base64_decode("Zm 9"));
  CHECK_FALSE(base64_decode("Zm9\n"));
  CHECK_FALSE(base64_decode("Zm-_"));  // base64url is not base64
  CHECK_FALSE(base64_decode("Zm9\x80"));
  CHECK_FALSE(base64_decode("Zm9\0"s));
}

TEST_CASE("base64 refuses a length that is not a multiple of 4", "[base64]") {
  CHECK_FALSE(base64_decode("Z"));
  CHECK_FALSE(base64_decode("Zm"));
  CHECK_FALSE(base64_decode("Zm9"));
  CHECK_FALSE(base64_decode("Zm9vY"));
  CHECK_FALSE(base64_decode("Zg="));  // padding does not make up the length
}

TEST_CASE("base64 of nothing is nothing", "[base64]") {
  const auto decoded = base64_decode("");
  REQUIRE(decoded);
  CHECK(decoded->empty());
}
