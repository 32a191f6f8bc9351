#include "packmail/protocols/imap/syntax.h"

namespace packmail::protocols::imap {

bool is_astring_char(char c) {
  // ATOM-CHAR: any CHAR except atom-specials = "(" / ")" / "{" / SP / CTL /
  // list-wildcards / quoted-specials / resp-specials; ASTRING-CHAR adds "]".
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
      return false;
    default:
      return true;
  }
}

bool token::is_atom(std::string_view upper_text) const {
  switch (kind) {
    case token_kind::atom:
    case token_kind::number:
    case token_kind::nil:
    case token_kind::section:
      return iequals_ascii(text, upper_text);
    default:
      return false;
  }
}

std::optional<std::string_view> token::astring() const {
  switch (kind) {
    case token_kind::quoted:
    case token_kind::literal:
      return std::string_view(text);
    case token_kind::literal8:  // may hold NUL: binary data only (RFC 3516)
      return std::nullopt;
    case token_kind::atom:
    case token_kind::number:
    case token_kind::nil:
    case token_kind::section:
      for (char c : text) {
        if (!is_astring_char(c)) return std::nullopt;
      }
      return std::string_view(text);
    case token_kind::list:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string_view> token::list_mailbox() const {
  if (kind == token_kind::atom || kind == token_kind::number || kind == token_kind::nil ||
      kind == token_kind::section) {
    for (char c : text) {
      if (!is_astring_char(c) && c != '%' && c != '*') return std::nullopt;
    }
    return std::string_view(text);
  }
  return astring();
}

}  // namespace packmail::protocols::imap
