// Building LMTP replies (RFC 5321 4.2 with RFC 2034 enhanced status codes)
// and the one mapping from storage::errc to delivery replies. Private to
// protocols/lmtp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/storage/status.h"

namespace packmail::protocols::lmtp {

// One reply, possibly of several lines ("250-..." then "250 ...").
struct reply {
  unsigned code = 250;
  // The enhanced status code ("2.1.0"), put before the text of every line.
  // Empty only for the replies RFC 2034 3 exempts (greeting, LHLO) and 354.
  std::string status;
  std::vector<std::string> lines;  // at least one
  bool close = false;              // close the connection after sending (QUIT, 421)
};

inline reply make_reply(unsigned code, std::string status, std::string text) {
  return reply{code, std::move(status), {std::move(text)}, false};
}

// "250-a\r\n250 b\r\n" (or "250 2.0.0 text\r\n").
void append_reply(std::string& out, const reply& r);

// The one switch from a failed delivery's storage error to its reply (text
// without the recipient). Everything the MTA should retry is 451 4.3.0.
reply delivery_failure(storage::errc code);

// RFC 5322 3.3 date-time in UTC: "Tue, 1 Jul 2003 10:52:37 +0000".
std::string rfc5322_date(std::int64_t unix_seconds);

}  // namespace packmail::protocols::lmtp
