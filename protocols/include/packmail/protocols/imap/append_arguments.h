// APPEND arguments (RFC 3501 6.3.11), with MULTIAPPEND (RFC 3502) and
// literal8 message data (RFC 3516):
//   mailbox 1*(SP [flag-list SP] [date-time SP] (literal / literal8))
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "packmail/protocols/imap/date_time.h"
#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

struct append_message {
  std::vector<std::string> flags;
  std::optional<date_time> internal_date;
  std::string data;     // the message, moved out of the literal
  bool binary = false;  // sent as literal8 ~{n}
};

struct append_request {
  std::string mailbox;                   // the astring as sent (modified UTF-7 unless UTF8=ACCEPT)
  std::vector<append_message> messages;  // one, or more with MULTIAPPEND
};

// Moves the message literals out of `args` (they may be large).
syntax_result<append_request> parse_append(std::vector<token>&& args);

}  // namespace packmail::protocols::imap
