#include "users/passwd_file.h"

#include <catch2/catch.hpp>

using namespace packmail::server;

namespace {

std::string only_error(std::string_view text) {
  const auto r = parse_passwd_file(text);
  REQUIRE(r.errors.size() == 1);
  return r.errors.front().message;
}

}  // namespace

TEST_CASE("a full Dovecot line: every column") {
  const auto r = parse_passwd_file(
      "alice:{PLAIN}pw:1000:100:Alice Example:/home/alice:/bin/sh:userdb_quota_rule=*:storage=1G "
      "nopassword\n");
  REQUIRE(r.ok());
  REQUIRE(r.table.size() == 1);
  const auto& e = r.table.entries().front();
  CHECK(e.user == "alice");
  CHECK(e.password.scheme == password_scheme::plain);
  CHECK(e.password.hash == "pw");
  CHECK(e.uid == 1000u);
  CHECK(e.gid == 100u);
  CHECK(e.gecos == "Alice Example");
  CHECK(e.home == "/home/alice");
  CHECK(e.shell == "/bin/sh");
  CHECK(e.extra_fields == "userdb_quota_rule=*:storage=1G nopassword");  // keeps its ':'
  CHECK(e.line == 1);
}

TEST_CASE("short lines, empty columns, comments, blank lines and CRLF") {
  const auto r = parse_passwd_file(
      "# users\n"
      "\n"
      "bob:{PLAIN}b\n"
      "carol:{PLAIN}c::::::\r\n"
      "   \n"
      "dave:{PLAIN}d:5\n"
      "erin:$6$saltsalt$abc");  // no final newline, bare hash = CRYPT
  INFO((r.errors.empty() ? "" : r.errors.front().message));
  // "   " is not blank for Dovecot either: it is a user name with spaces.
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors.front().line == 5);
  REQUIRE(r.table.size() == 4);
  CHECK(r.table.find("bob")->line == 3);
  const auto* carol = r.table.find("carol");
  REQUIRE(carol);
  CHECK(carol->password.hash == "c");
  CHECK_FALSE(carol->uid);
  CHECK(carol->extra_fields.empty());
  CHECK(r.table.find("dave")->uid == 5u);
  CHECK_FALSE(r.table.find("dave")->gid);
  CHECK(r.table.find("erin")->password.scheme == password_scheme::crypt);
  CHECK(r.table.find("erin")->line == 7);
}

TEST_CASE("lookups are case-insensitive") {
  const auto r = parse_passwd_file("Alice:{PLAIN}a\n");
  REQUIRE(r.ok());
  CHECK(r.table.find("alice"));
  CHECK(r.table.find("ALICE"));
  CHECK(r.table.find("Alice")->user == "Alice");
  CHECK_FALSE(r.table.find("alic"));
  CHECK_FALSE(r.table.find(""));
}

TEST_CASE("empty file") {
  const auto r = parse_passwd_file("");
  CHECK(r.ok());
  CHECK(r.table.size() == 0);
}

TEST_CASE("malformed: no password column") {
  CHECK_THAT(only_error("alice\n"), Catch::StartsWith("line 1:") && Catch::Contains("no ':'"));
}

TEST_CASE("malformed: empty user name") {
  CHECK_THAT(only_error("x:{PLAIN}x\n:{PLAIN}pw\n"),
             Catch::StartsWith("line 2:") && Catch::Contains("empty user name"));
}

TEST_CASE("malformed: whitespace or control characters in the user name") {
  CHECK_THAT(only_error("a b:{PLAIN}x\n"), Catch::Contains("whitespace"));
  CHECK_THAT(only_error("a\tb:{PLAIN}x\n"), Catch::Contains("whitespace"));
  CHECK_THAT(only_error(std::string("a\x01"
                                    "b:{PLAIN}x\n")),
             Catch::Contains("control"));
}

TEST_CASE("malformed: user name too long") {
  CHECK_THAT(only_error(std::string(256, 'u') + ":{PLAIN}x\n"), Catch::Contains("255"));
  CHECK(parse_passwd_file(std::string(255, 'u') + ":{PLAIN}x\n").ok());
}

TEST_CASE("malformed: empty password") {
  CHECK_THAT(only_error("alice:\n"), Catch::Contains("empty password") && Catch::Contains("alice"));
  CHECK_THAT(only_error("alice::1000\n"), Catch::Contains("empty password"));
}

TEST_CASE("malformed: unknown or unterminated scheme") {
  CHECK_THAT(only_error("alice:{MD5-CRYPT}$1$x\n"),
             Catch::Contains("unknown password scheme {MD5-CRYPT}"));
  CHECK_THAT(only_error("alice:{PLAINpw\n"), Catch::Contains("unterminated"));
}

TEST_CASE("malformed: a hash that cannot be of its scheme") {
  CHECK_THAT(only_error("alice:{SHA512-CRYPT}secret\n"), Catch::Contains("$6$"));
  CHECK_THAT(only_error("alice:{ARGON2ID}$argon2i$v=19$x\n"), Catch::Contains("$argon2id$"));
}

TEST_CASE("malformed: uid or gid not a number") {
  CHECK_THAT(only_error("alice:{PLAIN}a:abc\n"), Catch::Contains("uid 'abc'"));
  CHECK_THAT(only_error("alice:{PLAIN}a:-1\n"), Catch::Contains("uid '-1'"));
  CHECK_THAT(only_error("alice:{PLAIN}a:1:99999999999\n"), Catch::Contains("gid '99999999999'"));
  CHECK_THAT(only_error("alice:{PLAIN}a:1:2x\n"), Catch::Contains("gid '2x'"));
}

TEST_CASE("malformed: duplicate user, also in another case") {
  CHECK_THAT(only_error("alice:{PLAIN}a\nbob:{PLAIN}b\nALICE:{PLAIN}c\n"),
             Catch::StartsWith("line 3:") && Catch::Contains("duplicate user ALICE") &&
                 Catch::Contains("first on line 1"));
}

TEST_CASE("malformed: NUL byte") {
  CHECK_THAT(only_error(std::string("alice:{PLAIN}a\0b\n", 15)), Catch::Contains("NUL"));
}

TEST_CASE("every bad line is reported, the good ones are kept") {
  const auto r = parse_passwd_file("a:{PLAIN}1\nbad\nb:{FOO}x\nc:{PLAIN}3\n");
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].line == 2);
  CHECK(r.errors[1].line == 3);
  CHECK(r.table.size() == 2);
  CHECK(r.table.find("c"));
}

TEST_CASE("user names for packmailctl") {
  CHECK(check_user_name("demo").empty());
  CHECK(check_user_name("user@example.com").empty());
  CHECK_FALSE(check_user_name("").empty());
  CHECK_FALSE(check_user_name("a:b").empty());
  CHECK_FALSE(check_user_name("#root").empty());
  CHECK_FALSE(check_user_name("a b").empty());
  CHECK(fold_user_name("MiXeD@Example.COM") == "mixed@example.com");
}
