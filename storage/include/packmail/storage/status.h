// Typed results for the storage layer. Storage never throws across its
// interface: every call returns a status or a result<T>, and each protocol maps
// the error code to its own replies in one switch (IMAP NO [TRYCREATE], POP3
// -ERR [IN-USE], LMTP 451 4.3.0, ...).
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace packmail::storage {

enum class errc : std::uint8_t {
  ok = 0,
  not_found,   // no such user, mailbox or message
  exists,      // the name is taken
  try_create,  // the target mailbox of an append/copy does not exist
  over_quota,
  in_use,            // locked by another session
  expunged,          // the message was expunged meanwhile
  corrupt,           // a checksum or record failed verification; logged
  temporary,         // try again later (disk full, write stalled, no mirror in sync)
  internal,          // a bug or an unexpected backend error; logged
  invalid_argument,  // the request itself is wrong (bad name, INBOX delete, ...)
};

std::string_view to_string(errc code);

class [[nodiscard]] status {
 public:
  status() = default;  // ok
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}

  static status success() { return {}; }

  bool ok() const { return code_ == errc::ok; }
  explicit operator bool() const { return ok(); }
  errc code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_found: no mailbox \"Foo\"", or "ok".
  std::string to_string() const;

 private:
  errc code_ = errc::ok;
  std::string message_;
};

// Either a value or a non-ok status.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  result(status error) : v_(std::move(error)) { assert(!std::get<status>(v_).ok()); }
  result(errc code, std::string message) : v_(status(code, std::move(message))) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error; success() when ok.
  status error() const { return ok() ? status() : std::get<status>(v_); }
  errc code() const { return ok() ? errc::ok : std::get<status>(v_).code(); }

 private:
  std::variant<T, status> v_;
};

}  // namespace packmail::storage
