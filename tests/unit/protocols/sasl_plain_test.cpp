// parse_sasl_plain (protocols/common/sasl_plain.h): the RFC 4616 PLAIN
// message that IMAP AUTHENTICATE and POP3 AUTH share.
#include "common/sasl_plain.h"

#include <catch2/catch.hpp>

#include <string>
#include <variant>

using packmail::protocols::parse_sasl_plain;
using packmail::protocols::sasl_plain_credentials;
using packmail::protocols::sasl_plain_error;
using packmail::protocols::sasl_plain_result;
using namespace std::string_literals;

namespace {

// The credentials of a result that must have parsed.
sasl_plain_credentials credentials(const sasl_plain_result& r) {
  REQUIRE(std::holds_alternative<sasl_plain_credentials>(r));
  return std::get<sasl_plain_credentials>(r);
}

bool failed_with(const sasl_plain_result& r, sasl_plain_error e) {
  const auto* error = std::get_if<sasl_plain_error>(&r);
  return error != nullptr && *error == e;
}

}  // namespace

TEST_CASE("PLAIN without authzid: NUL authcid NUL passwd", "[sasl]") {
  // "\0alice\0secret"
  const auto c = credentials(parse_sasl_plain("AGFsaWNlAHNlY3JldA=="));
  CHECK(c.authzid.empty());
  CHECK(c.authcid == "alice");
  CHECK(c.password == "secret");
  CHECK_FALSE(c.authorizes_other_user());
}

TEST_CASE("PLAIN with an authzid: the same user, or another one", "[sasl]") {
  // "alice\0alice\0secret"
  const auto same = credentials(parse_sasl_plain("YWxpY2UAYWxpY2UAc2VjcmV0"));
  CHECK(same.authzid == "alice");
  CHECK(same.authcid == "alice");
  CHECK(same.password == "secret");
  CHECK_FALSE(same.authorizes_other_user());
  // "bob\0alice\0secret": alice asks to act as bob.
  const auto other = credentials(parse_sasl_plain("Ym9iAGFsaWNlAHNlY3JldA=="));
  CHECK(other.authzid == "bob");
  CHECK(other.authcid == "alice");
  CHECK(other.authorizes_other_user());
}

TEST_CASE("PLAIN keeps empty fields and NULs inside the password", "[sasl]") {
  // "\0\0": empty authcid and password; the login fails later, not here.
  const auto empty = credentials(parse_sasl_plain("AAA="));
  CHECK(empty.authcid.empty());
  CHECK(empty.password.empty());
  // "\0alice\0se\0cret": everything after the second NUL is the password.
  const auto nul = credentials(parse_sasl_plain("AGFsaWNlAHNlAGNyZXQ="));
  CHECK(nul.authcid == "alice");
  CHECK(nul.password == "se\0cret"s);
}

TEST_CASE("PLAIN refuses bad base64 and messages without two NULs", "[sasl]") {
  CHECK(failed_with(parse_sasl_plain("not base64!"), sasl_plain_error::bad_base64));
  CHECK(failed_with(parse_sasl_plain("AGFsaWNl="), sasl_plain_error::bad_base64));
  // "" (an empty initial response), "alice", "\0alice": fewer than two NULs.
  CHECK(failed_with(parse_sasl_plain(""), sasl_plain_error::bad_format));
  CHECK(failed_with(parse_sasl_plain("YWxpY2U="), sasl_plain_error::bad_format));
  CHECK(failed_with(parse_sasl_plain("AGFsaWNl"), sasl_plain_error::bad_format));
}
