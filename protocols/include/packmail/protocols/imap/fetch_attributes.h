// FETCH arguments (RFC 3501 6.4.5 / RFC 9051 6.4.5): the data items, with
// the macros ALL/FAST/FULL expanded, BODY[section]<partial>, BODY.PEEK,
// BINARY[...] / BINARY.PEEK / BINARY.SIZE (RFC 3516), MODSEQ and the
// CHANGEDSINCE / VANISHED modifiers (RFC 7162).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "packmail/protocols/imap/sequence_set.h"
#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

// RFC 3501 9: section-spec = section-msgtext / (section-part ["." section-text])
struct section_spec {
  enum class text_kind {
    all,                // BODY[] or BODY[1.2]: the whole message / part
    header,             // HEADER
    header_fields,      // HEADER.FIELDS (list)
    header_fields_not,  // HEADER.FIELDS.NOT (list)
    text,               // TEXT
    mime,               // MIME (only after a part number)
  };
  std::vector<std::uint32_t> part;  // "1.2.3"; empty for the top-level message
  text_kind text = text_kind::all;
  std::vector<std::string> fields;  // header field names, upper-cased
  friend bool operator==(const section_spec&, const section_spec&) = default;
};

// "<offset.length>"; RFC 9051: length is nz-number.
struct partial_range {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  friend bool operator==(const partial_range&, const partial_range&) = default;
};

struct fetch_item {
  enum class kind {
    envelope,
    flags,
    internal_date,
    rfc822,
    rfc822_header,
    rfc822_size,
    rfc822_text,
    body,  // BODY without section: non-extensible BODYSTRUCTURE
    body_structure,
    uid,
    body_section,  // BODY[...] / BODY.PEEK[...]
    binary,        // BINARY[...] / BINARY.PEEK[...]
    binary_size,   // BINARY.SIZE[...]
    modseq,        // RFC 7162
  };
  kind what = kind::flags;
  bool peek = false;                     // BODY.PEEK / BINARY.PEEK: do not set \Seen
  section_spec section;                  // body_section, binary, binary_size
  std::optional<partial_range> partial;  // body_section, binary
  friend bool operator==(const fetch_item&, const fetch_item&) = default;
};

struct fetch_request {
  sequence_set set;
  std::vector<fetch_item> items;
  std::optional<std::uint64_t> changed_since;  // (CHANGEDSINCE n)
  bool vanished = false;                       // (VANISHED), UID FETCH only (RFC 7162 3.2.6)
};

// One data item or a macro from its token text, e.g. "BODY.PEEK[1.MIME]<0.10>".
syntax_result<std::vector<fetch_item>> parse_fetch_item(std::string_view text);
// The attribute argument: a macro, a single item, or a parenthesized list
// (macros are not allowed inside the list).
syntax_result<std::vector<fetch_item>> parse_fetch_attributes(const token& argument);
// A whole FETCH / UID FETCH: sequence-set SP attributes [SP modifiers].
syntax_result<fetch_request> parse_fetch(std::span<const token> args, bool uid);

}  // namespace packmail::protocols::imap
