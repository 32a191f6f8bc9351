// ASCII case helpers for protocol keywords, SASL mechanism names, domains and
// other case-insensitive ASCII tokens (IMAP, POP3, LMTP, and server/ for user
// and scheme names). Only the letters A-Z and a-z change case; every other
// byte (UTF-8 included) is kept as is, whatever the C locale says.
//
// Header-only on purpose: the stand-alone fuzz build (tests/fuzz/clang)
// compiles parser sources one by one and needs no extra source for these.
#pragma once

#include <string>
#include <string_view>

namespace packmail::protocols {

namespace ascii_detail {
constexpr char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace ascii_detail

// `text` with a-z upper-cased.
inline std::string to_upper_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_detail::upper(c);
  return out;
}

// `text` with A-Z lower-cased.
inline std::string to_lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_detail::lower(c);
  return out;
}

// Whether `a` and `b` are equal ignoring the case of ASCII letters.
constexpr bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_detail::upper(a[i]) != ascii_detail::upper(b[i])) return false;
  }
  return true;
}

}  // namespace packmail::protocols
