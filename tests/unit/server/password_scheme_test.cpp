#include <catch2/catch.hpp>

#include "users/password.h"

using namespace packmail::server;

namespace {

// Fixed vectors, made by other implementations (openssl passwd -6, libsodium,
// libxcrypt), so that verification does not only check our own hashing.
constexpr const char* k_sha512 =
    "{SHA512-CRYPT}$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0"
    "Y77vwPZN.Pq.H91p5hVO1";
constexpr const char* k_argon2id =
    "{ARGON2ID}$argon2id$v=19$m=64,t=2,p=1$5v9YlwdDMzutFhNmmzcPoQ$/"
    "frvBjdN5LVMy7sNKUHbCKzlcXVNlLRiUY9VGklcAw0";
constexpr const char* k_bcrypt =
    "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a";
constexpr const char* k_sha256_crypt =
    "{CRYPT}$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
constexpr const char* k_yescrypt_bare =
    "$y$j9T$abcdefghijklmnop$3dL1LkYnZM.OVXuVdnnaKVDlLYT92dRwOzDZ5XiVCe.";

stored_password parse(std::string_view field) {
  auto p = parse_stored_password(field);
  INFO(p.error);
  REQUIRE(p.value);
  return *p.value;
}

}  // namespace

TEST_CASE("scheme names are case-insensitive, CLEARTEXT is PLAIN") {
  CHECK(parse_scheme_name("argon2id") == password_scheme::argon2id);
  CHECK(parse_scheme_name("SHA512-CRYPT") == password_scheme::sha512_crypt);
  CHECK(parse_scheme_name("blf-crypt") == password_scheme::blf_crypt);
  CHECK(parse_scheme_name("Crypt") == password_scheme::crypt);
  CHECK(parse_scheme_name("CLEARTEXT") == password_scheme::plain);
  CHECK_FALSE(parse_scheme_name("MD5"));
  CHECK_FALSE(parse_scheme_name(""));
  CHECK(scheme_name(password_scheme::sha512_crypt) == "SHA512-CRYPT");
}

TEST_CASE("SHA512-CRYPT verifies a foreign hash") {
  const auto p = parse(k_sha512);
  CHECK(p.scheme == password_scheme::sha512_crypt);
  CHECK(verify_password(p, "secret"));
  CHECK_FALSE(verify_password(p, "Secret"));
  CHECK_FALSE(verify_password(p, "secret "));
  CHECK_FALSE(verify_password(p, ""));
}

TEST_CASE("ARGON2ID verifies a foreign hash") {
  const auto p = parse(k_argon2id);
  CHECK(p.scheme == password_scheme::argon2id);
  CHECK(verify_password(p, "secret"));
  CHECK_FALSE(verify_password(p, "secreT"));
}

TEST_CASE("BLF-CRYPT, CRYPT and bare hashes verify through libcrypt") {
  CHECK(verify_password(parse(k_bcrypt), "secret"));
  CHECK_FALSE(verify_password(parse(k_bcrypt), "secre"));
  CHECK(verify_password(parse(k_sha256_crypt), "secret"));
  const auto bare = parse(k_yescrypt_bare);
  CHECK(bare.scheme == password_scheme::crypt);
  CHECK(verify_password(bare, "secret"));
  CHECK_FALSE(verify_password(bare, "other"));
}

TEST_CASE("PLAIN compares the whole password") {
  const auto p = parse("{PLAIN}hunter2");
  CHECK(verify_password(p, "hunter2"));
  CHECK_FALSE(verify_password(p, "hunter"));
  CHECK_FALSE(verify_password(p, "hunter22"));
  CHECK_FALSE(verify_password(p, "Hunter2"));
  CHECK(verify_password(parse("{CLEARTEXT}a:b"), "a:b"));
}

TEST_CASE("a password with NUL never verifies") {
  using namespace std::string_view_literals;
  CHECK_FALSE(verify_password(parse("{PLAIN}ab"), "ab\0c"sv));
  CHECK_FALSE(verify_password(parse(k_sha512), "secret\0x"sv));
  CHECK_THROWS_AS(hash_password(password_scheme::sha512_crypt, "a\0b"sv), std::invalid_argument);
}

TEST_CASE("hash then verify, for every scheme that can be generated") {
  for (auto scheme : {password_scheme::argon2id, password_scheme::sha512_crypt,
                      password_scheme::blf_crypt, password_scheme::plain}) {
    INFO(scheme_name(scheme));
    const auto field = hash_password(scheme, "correct horse");
    CHECK(field.starts_with("{" + std::string(scheme_name(scheme)) + "}"));
    const auto p = parse(field);
    CHECK(p.scheme == scheme);
    CHECK(verify_password(p, "correct horse"));
    CHECK_FALSE(verify_password(p, "correct horse "));
  }
}

TEST_CASE("generated hashes are salted") {
  CHECK(hash_password(password_scheme::sha512_crypt, "x") !=
        hash_password(password_scheme::sha512_crypt, "x"));
  CHECK(hash_password(password_scheme::argon2id, "x") !=
        hash_password(password_scheme::argon2id, "x"));
  CHECK(hash_password(password_scheme::sha512_crypt, "x").starts_with("{SHA512-CRYPT}$6$"));
  CHECK(hash_password(password_scheme::argon2id, "x").starts_with("{ARGON2ID}$argon2id$v=19$"));
}

TEST_CASE("CRYPT cannot be generated") {
  CHECK_THROWS_AS(hash_password(password_scheme::crypt, "x"), std::invalid_argument);
}

TEST_CASE("malformed stored passwords are rejected with a reason") {
  auto error = [](std::string_view field) {
    auto p = parse_stored_password(field);
    CHECK_FALSE(p.value);
    return p.error;
  };
  CHECK_THAT(error("{SHA512-CRYPT"), Catch::Contains("unterminated"));
  CHECK_THAT(error("{MD5}abc"), Catch::Contains("unknown password scheme {MD5}"));
  CHECK_THAT(error("{PLAIN}"), Catch::Contains("empty"));
  CHECK_THAT(error(""), Catch::Contains("empty"));
  CHECK_THAT(error("{SHA512-CRYPT}$5$abc$def"), Catch::Contains("$6$"));
  CHECK_THAT(error("{ARGON2ID}$argon2i$v=19$m=64,t=2,p=1$a$b"), Catch::Contains("$argon2id$"));
  CHECK_THAT(error("{BLF-CRYPT}$6$abc"), Catch::Contains("$2"));
  CHECK_THAT(error("{ARGON2ID}$argon2id$" + std::string(200, 'a')), Catch::Contains("too long"));
}

TEST_CASE("garbage hashes fail verification instead of crashing") {
  CHECK_FALSE(verify_password(parse("{CRYPT}*"), "x"));
  CHECK_FALSE(verify_password(parse("{CRYPT}$6$"), ""));
  CHECK_FALSE(verify_password(parse("{SHA512-CRYPT}$6$salt"), "x"));
  CHECK_FALSE(verify_password(parse("{ARGON2ID}$argon2id$v=19$garbage"), "x"));
  CHECK_FALSE(verify_password(parse("{BLF-CRYPT}$2y$99$short"), "x"));
}
