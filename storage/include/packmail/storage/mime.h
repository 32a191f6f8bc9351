// The parsed structure of a message, computed once at delivery and stored
// beside the body, so that FETCH ENVELOPE/BODYSTRUCTURE/BODY[section] and SEARCH
// never re-parse the message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace packmail::storage::mime {

// One MIME entity. Offsets are byte offsets into the raw message as delivered
// (without any per-recipient prefix such as Delivered-To).
struct part {
  // The entity's header: [header_offset, header_offset + header_length), the
  // blank line that ends it included. For the top-level message it is the
  // message header (IMAP "HEADER"); for a sub-part its MIME header ("n.MIME").
  std::uint64_t header_offset = 0;
  std::uint64_t header_length = 0;
  // The entity's body (IMAP "TEXT" of a message, or the content of a part).
  std::uint64_t body_offset = 0;
  std::uint64_t body_length = 0;
  std::string type = "text";      // lower case, e.g. "multipart"
  std::string subtype = "plain";  // lower case, e.g. "mixed"
  // For multipart/*: the sub-parts, numbered 1.. in IMAP sections.
  // For message/rfc822 (and message/global): exactly one child, the
  // encapsulated message, whose header_* is the encapsulated header and whose
  // own children/body follow the same rules.
  std::vector<part> children;
  // true when this entity is the encapsulated message of a message/rfc822 part
  // (or the top-level message): its header is a message header.
  bool is_message = false;
};

struct message_structure {
  // IMAP ENVELOPE of the top-level message, rendered as on the wire: "(...)".
  std::string envelope;
  // IMAP BODYSTRUCTURE (with extension data) and BODY (without), rendered.
  std::string bodystructure;
  std::string body;
  // The part tree (root = the whole message, is_message = true).
  part root;
  // Top-level header fields, names as in the message, values unfolded and
  // RFC 2047-decoded to UTF-8, in message order (for SEARCH HEADER/FROM/...).
  std::vector<std::pair<std::string, std::string>> headers;
  // Decoded text of every text/* part (transfer encoding removed, charset
  // converted to UTF-8), parts separated by '\n' (for SEARCH BODY/TEXT).
  std::string text;

  // A compact versioned binary form for storage; decode() returns nullopt
  // for bytes that were not produced by encode() (treated as corrupt).
  std::string encode() const;
  static std::optional<message_structure> decode(std::string_view bytes);
};

// Parses a raw RFC 5322 message (CRLF or LF line ends). Never fails: malformed
// input yields a best-effort structure, as IMAP servers must still serve it.
// Thread-safe.
message_structure parse(std::string_view raw);

}  // namespace packmail::storage::mime
