// Password schemes of Dovecot's passwd-file: a stored password is
// "{SCHEME}hash". Hashing and verification use libcrypt (crypt_rn) and
// libsodium (Argon2id); every comparison of secrets is constant-time.
//
// Thread-safety: every function may be called concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace packmail::server {

enum class password_scheme {
  argon2id,      // {ARGON2ID}$argon2id$v=19$m=...,t=...,p=...$salt$hash (libsodium)
  sha512_crypt,  // {SHA512-CRYPT}$6$salt$hash (libcrypt)
  blf_crypt,     // {BLF-CRYPT}$2y$... bcrypt (libcrypt)
  crypt,         // {CRYPT} anything libcrypt verifies; also the scheme of a bare hash
  plain,         // {PLAIN} or {CLEARTEXT} the password itself: for tests only
};

// Upper-case Dovecot name: "ARGON2ID", "SHA512-CRYPT", "BLF-CRYPT", "CRYPT", "PLAIN".
std::string_view scheme_name(password_scheme scheme);
// Case-insensitive; "CLEARTEXT" is an alias of PLAIN. nullopt when unknown.
std::optional<password_scheme> parse_scheme_name(std::string_view name);

// A stored password split into scheme and hash.
struct stored_password {
  password_scheme scheme = password_scheme::crypt;
  std::string hash;  // without the "{SCHEME}" prefix
};

// Splits "{SCHEME}hash"; a value without a prefix is CRYPT (Dovecot's
// default_pass_scheme). Returns an error message (no line number) when the
// prefix is unterminated or unknown, or when the hash cannot be of that scheme
// (empty, wrong "$id$" prefix, contains NUL, too long for the hashing library).
struct parsed_password {
  std::optional<stored_password> value;
  std::string error;
};
parsed_password parse_stored_password(std::string_view field);

// Hashes with a fresh random salt and returns "{SCHEME}hash". Schemes that
// can be generated: ARGON2ID (libsodium's interactive limits: 2 passes, 64 MiB),
// SHA512-CRYPT (5000 rounds), BLF-CRYPT (cost 10) and PLAIN. Throws
// std::invalid_argument for CRYPT (it names no algorithm) and for a password
// containing NUL (libcrypt takes C strings); std::runtime_error if the
// hashing library fails.
std::string hash_password(password_scheme scheme, std::string_view password);

// True when the password matches. False on mismatch and on any malformed hash.
bool verify_password(const stored_password& stored, std::string_view password);

}  // namespace packmail::server
