#include "users/password.h"

#include <crypt.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "packmail/protocols/ascii.h"

namespace packmail::server {
namespace {

void init_sodium() {
  // sodium_init() is idempotent and thread-safe; the static makes it cheap.
  static const int k_result = sodium_init();
  if (k_result < 0) throw std::runtime_error("libsodium initialisation failed");
}

// Constant-time equality, also for strings of different length: compare
// fixed-size digests of both.
bool secure_equals(std::string_view a, std::string_view b) {
  init_sodium();
  std::array<unsigned char, 32> da{}, db{};
  crypto_generichash(da.data(), da.size(), reinterpret_cast<const unsigned char*>(a.data()),
                     a.size(), nullptr, 0);
  crypto_generichash(db.data(), db.size(), reinterpret_cast<const unsigned char*>(b.data()),
                     b.size(), nullptr, 0);
  return sodium_memcmp(da.data(), db.data(), da.size()) == 0;
}

std::string crypt_with(std::string_view password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on the stack
  std::memset(data.get(), 0, sizeof(crypt_data));
  const std::string phrase(password);
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  // libxcrypt signals failure with NULL or a string starting with '*'.
  if (out == nullptr || out[0] == '*') return {};
  return out;
}

std::string gensalt(const char* prefix, unsigned long count) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> buf{};
  if (crypt_gensalt_rn(prefix, count, nullptr, 0, buf.data(), buf.size()) == nullptr) {
    throw std::runtime_error(std::string("crypt_gensalt_rn failed for ") + prefix);
  }
  return buf.data();
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return s.starts_with(p); });
}

}  // namespace

std::string_view scheme_name(password_scheme scheme) {
  switch (scheme) {
    case password_scheme::argon2id:
      return "ARGON2ID";
    case password_scheme::sha512_crypt:
      return "SHA512-CRYPT";
    case password_scheme::blf_crypt:
      return "BLF-CRYPT";
    case password_scheme::crypt:
      return "CRYPT";
    case password_scheme::plain:
      return "PLAIN";
  }
  return "?";
}

std::optional<password_scheme> parse_scheme_name(std::string_view name) {
  for (auto s : {password_scheme::argon2id, password_scheme::sha512_crypt,
                 password_scheme::blf_crypt, password_scheme::crypt, password_scheme::plain}) {
    if (protocols::iequals_ascii(name, scheme_name(s))) return s;
  }
  if (protocols::iequals_ascii(name, "CLEARTEXT")) return password_scheme::plain;
  return std::nullopt;
}

parsed_password parse_stored_password(std::string_view field) {
  stored_password out;
  std::string_view hash = field;
  if (field.starts_with('{')) {
    const auto end = field.find('}');
    if (end == std::string_view::npos) return {std::nullopt, "unterminated {SCHEME} prefix"};
    const auto name = field.substr(1, end - 1);
    const auto scheme = parse_scheme_name(name);
    if (!scheme) return {std::nullopt, "unknown password scheme {" + std::string(name) + "}"};
    out.scheme = *scheme;
    hash = field.substr(end + 1);
  }
  if (hash.find('\0') != std::string_view::npos) {
    return {std::nullopt, "password field contains a NUL byte"};
  }
  if (hash.empty()) return {std::nullopt, "empty password"};
  switch (out.scheme) {
    case password_scheme::argon2id:
      if (!hash.starts_with("$argon2id$")) {
        return {std::nullopt, "ARGON2ID hash must start with $argon2id$"};
      }
      if (hash.size() >= crypto_pwhash_STRBYTES) {
        return {std::nullopt, "ARGON2ID hash is too long"};
      }
      break;
    case password_scheme::sha512_crypt:
      if (!hash.starts_with("$6$")) return {std::nullopt, "SHA512-CRYPT hash must start with $6$"};
      break;
    case password_scheme::blf_crypt:
      if (!starts_with_any(hash, {"$2a$", "$2b$", "$2x$", "$2y$"})) {
        return {std::nullopt, "BLF-CRYPT hash must start with $2a$, $2b$, $2x$ or $2y$"};
      }
      break;
    case password_scheme::crypt:
    case password_scheme::plain:
      break;
  }
  if (out.scheme != password_scheme::plain && hash.size() >= CRYPT_OUTPUT_SIZE) {
    return {std::nullopt, "password hash is too long"};
  }
  out.hash = std::string(hash);
  return {std::move(out), {}};
}

std::string hash_password(password_scheme scheme, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("password contains a NUL byte");
  }
  std::string hash;
  switch (scheme) {
    case password_scheme::argon2id: {
      init_sodium();
      std::array<char, crypto_pwhash_STRBYTES> out{};
      if (crypto_pwhash_str(out.data(), password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        throw std::runtime_error("crypto_pwhash_str failed (out of memory?)");
      }
      hash = out.data();
      break;
    }
    case password_scheme::sha512_crypt:
      hash = crypt_with(password, gensalt("$6$", 0));
      break;
    case password_scheme::blf_crypt:
      hash = crypt_with(password, gensalt("$2y$", 10));
      break;
    case password_scheme::plain:
      hash = password;
      break;
    case password_scheme::crypt:
      throw std::invalid_argument("CRYPT names no algorithm; choose SHA512-CRYPT or ARGON2ID");
  }
  if (hash.empty()) throw std::runtime_error("crypt_rn failed");
  return "{" + std::string(scheme_name(scheme)) + "}" + hash;
}

bool verify_password(const stored_password& stored, std::string_view password) {
  if (password.find('\0') != std::string_view::npos || stored.hash.empty()) return false;
  switch (stored.scheme) {
    case password_scheme::plain:
      return secure_equals(stored.hash, password);
    case password_scheme::argon2id:
      init_sodium();
      if (stored.hash.size() >= crypto_pwhash_STRBYTES) return false;
      return crypto_pwhash_str_verify(stored.hash.c_str(), password.data(), password.size()) == 0;
    case password_scheme::sha512_crypt:
    case password_scheme::blf_crypt:
    case password_scheme::crypt: {
      const std::string computed = crypt_with(password, stored.hash);
      return !computed.empty() && secure_equals(computed, stored.hash);
    }
  }
  return false;
}

}  // namespace packmail::server
