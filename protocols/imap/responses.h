// Building IMAP responses (RFC 3501 7): strings, literals, flag lists, dates,
// tagged results, and the one mapping from storage::errc to response codes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "packmail/storage/status.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::imap {

// A tagged result. text includes any response code: "[TRYCREATE] No such mailbox".
struct reply {
  enum class kind { ok, no, bad };
  kind what = kind::ok;
  std::string text;
  bool close = false;  // close the connection after sending (LOGOUT)
};

inline reply ok(std::string text) { return {reply::kind::ok, std::move(text)}; }
inline reply no(std::string text) { return {reply::kind::no, std::move(text)}; }
inline reply bad(std::string text) { return {reply::kind::bad, std::move(text)}; }

// The one switch from storage errors to IMAP (RFC 5530 response codes).
reply storage_failure(storage::errc code);
inline reply storage_failure(const storage::status& s) { return storage_failure(s.code()); }

// "<tag> OK text\r\n".
void append_tagged(std::string& out, std::string_view tag, const reply& r);

// A quoted string when the text allows it, else a literal {n}\r\n...
std::string string_value(std::string_view text);
// {n}\r\n followed by the bytes.
std::string literal_value(std::string_view bytes);
// A store (UTF-8) mailbox name in modified UTF-7, as a string.
std::string mailbox_value(std::string_view utf8_name);
// "(\Seen \Flagged keyword)".
// "(\\Seen kw ...)"; recent adds \\Recent (RFC 3501 2.3.2, session state).
std::string flag_list(std::uint8_t flags, std::span<const std::string> keywords,
                      bool recent = false);
// "17-Jul-1996 02:44:25 -0700" (quoted by the caller) for INTERNALDATE.
std::string internal_date(std::int64_t unix_seconds, std::int16_t tz_offset_minutes);
// "1:3,5" for a list of numbers, sorted or not.
std::string uid_set(std::vector<std::uint32_t> numbers);

// System flag name to its bit; 0 when not a storable system flag.
std::uint8_t system_flag_bit(std::string_view flag);
// Sorts flag arguments (APPEND, STORE) into system flag bits, added to `bits`,
// and keywords, appended to `keywords`. \Recent is session state: skipped
// when `skip_recent`, else refused like an unknown \Flag. Returns the first
// flag refused, or nullptr.
const std::string* sort_flags(std::span<const std::string> flags, bool skip_recent,
                              std::uint8_t& bits, std::vector<std::string>& keywords);

}  // namespace packmail::protocols::imap
