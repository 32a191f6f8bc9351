// libFuzzer target for storage/mime: parse() must never crash, hang or leak on
// any input, its offsets must stay inside the input, and the stored form must
// round-trip exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

namespace {

void check_part(const mime::part& p, std::size_t size) {
  if (p.header_offset + p.header_length != p.body_offset) std::abort();
  if (p.body_offset > size || p.body_length > size - p.body_offset) std::abort();
  for (const mime::part& child : p.children) {
    if (child.header_offset < p.body_offset ||
        child.body_offset + child.body_length > p.body_offset + p.body_length) {
      std::abort();
    }
    check_part(child, size);
  }
}

// Checks that s is one well-formed IMAP parenthesized list made of lists,
// NIL, numbers, quoted strings and literals (RFC 3501 9), as FETCH sends it.
bool well_formed_list(std::string_view s) {
  std::size_t pos = 0;
  int depth = 0;
  bool need_separator = false;
  while (pos < s.size()) {
    char c = s[pos];
    if (c == ' ') {
      if (!need_separator) return false;
      need_separator = false;
      ++pos;
    } else if (c == ')') {
      if (--depth < 0) return false;
      need_separator = true;
      ++pos;
      if (depth == 0) return pos == s.size();
    } else if (need_separator) {
      // Lists may follow each other directly: "(a)(b)".
      if (c != '(' || s[pos - 1] != ')') return false;
      need_separator = false;
    } else if (c == '(') {
      ++depth;
      ++pos;
    } else if (c == '"') {
      for (++pos;; ++pos) {
        if (pos >= s.size()) return false;
        auto u = static_cast<unsigned char>(s[pos]);
        if (u == 0 || u >= 0x80 || u == '\r' || u == '\n') return false;
        if (s[pos] == '\\') {
          if (++pos >= s.size() || (s[pos] != '"' && s[pos] != '\\')) return false;
        } else if (s[pos] == '"') {
          break;
        }
      }
      ++pos;
      need_separator = true;
    } else if (c == '{') {
      std::size_t close = s.find("}\r\n", pos);
      if (close == std::string_view::npos || close == pos + 1) return false;
      std::size_t n = 0;
      for (std::size_t i = pos + 1; i < close; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        n = n * 10 + static_cast<std::size_t>(s[i] - '0');
      }
      pos = close + 3;
      if (n > s.size() - pos) return false;
      pos += n;
      need_separator = true;
    } else if (s.substr(pos, 3) == "NIL") {
      pos += 3;
      need_separator = true;
    } else if (c >= '0' && c <= '9') {
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
      need_separator = true;
    } else {
      return false;
    }
    if (depth == 0) return false;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  mime::message_structure s = mime::parse(raw);
  check_part(s.root, size);
  if (!well_formed_list(s.envelope) || !well_formed_list(s.body) ||
      !well_formed_list(s.bodystructure)) {
    std::abort();
  }

  std::string bytes = s.encode();
  std::optional<mime::message_structure> decoded = mime::message_structure::decode(bytes);
  if (!decoded || decoded->encode() != bytes) std::abort();

  // Truncated stored forms must be rejected, never over-read.
  if (mime::message_structure::decode(std::string_view(bytes).substr(0, bytes.size() / 2))) {
    std::abort();
  }
  // The raw input itself is (almost surely) not a stored form; decoding it
  // exercises the decoder on arbitrary bytes.
  (void)mime::message_structure::decode(raw);
  return 0;
}
