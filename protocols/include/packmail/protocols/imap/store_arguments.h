// STORE / UID STORE arguments (RFC 3501 6.4.6, RFC 7162 3.1.3):
//   sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]
//   SP ["+" / "-"] "FLAGS" [".SILENT"] SP (flag-list / (flag *(SP flag)))
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "packmail/protocols/imap/sequence_set.h"
#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

struct store_request {
  enum class operation { replace, add, remove };  // FLAGS, +FLAGS, -FLAGS
  sequence_set set;
  std::optional<std::uint64_t> unchanged_since;
  operation op = operation::replace;
  bool silent = false;
  // As sent: system flags ("\Seen", any case) and keywords. Duplicates kept.
  std::vector<std::string> flags;
};

// RFC 3501 9: flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" /
// "\Draft" / flag-keyword / flag-extension; flag-keyword = atom,
// flag-extension = "\" atom. True for any of these.
bool is_valid_flag(std::string_view flag);

// Flags of a flag-list token "(\Seen foo)" (also used by APPEND).
syntax_result<std::vector<std::string>> parse_flag_list(const token& list);

syntax_result<store_request> parse_store(std::span<const token> args);

}  // namespace packmail::protocols::imap
