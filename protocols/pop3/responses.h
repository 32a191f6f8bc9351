// Building POP3 responses (RFC 1939 3): status lines, multi-line bodies with
// byte-stuffing, UIDLs, and the one mapping from storage::errc to response
// codes (RFC 2449 8, RFC 3206). Private to protocols/pop3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "packmail/storage/status.h"

namespace packmail::protocols::pop3 {

// "+OK text\r\n" ("+OK\r\n" for empty text).
void append_ok(std::string& out, std::string_view text);
// "-ERR text\r\n".
void append_err(std::string& out, std::string_view text);

// The one switch from storage errors to POP3: the text after "-ERR ",
// response code included ("[SYS/TEMP] Temporary failure, try again later").
std::string storage_failure(storage::errc code);

// The body of a multi-line response and its terminator (RFC 1939 3): bare LF
// line ends become CRLF, a line starting with '.' gets one more '.', a
// missing final CRLF is added, then ".\r\n".
void append_multiline(std::string& out, std::string_view bytes);

// The first `body_lines` lines of the message body with the header and the
// blank line before them, as a prefix of `message` (RFC 1939 7, TOP). The
// whole message when it has fewer body lines, or no blank line at all.
std::string_view top_of_message(std::string_view message, std::uint64_t body_lines);

// Dovecot's default pop3_uidl_format "%08Xu%08Xv": 16 upper-case hex digits.
std::string uidl(std::uint32_t uid, std::uint32_t uidvalidity);

}  // namespace packmail::protocols::pop3
