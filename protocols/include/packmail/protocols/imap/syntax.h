// The generic syntax tree of one IMAP command, as produced by command_parser,
// and the small result type the typed argument parsers return. Every
// command's handler interprets its own arguments from this tree; the typed
// parsers beside this header (sequence_set.h, fetch_attributes.h, ...) do it
// for the hard grammars.
//
// Errors are values: nothing here throws on bad input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "packmail/protocols/ascii.h"

namespace packmail::protocols::imap {

enum class token_kind {
  atom,      // RFC 3501 atom, also "*", "%", flags such as "\Seen", sequence sets "1:*"
  number,    // an atom made only of digits whose value fits in 64 bits (number64)
  quoted,    // quoted string; text holds the unescaped contents
  literal,   // {n} or {n+}; text holds the n octets
  literal8,  // ~{n} (RFC 3516 BINARY); may contain NUL
  nil,       // the atom NIL (any case); text keeps it as sent
  list,      // parenthesized list; children hold the elements
  section,   // an atom with a bracketed part kept whole: BODY[HEADER.FIELDS (A B)]<0.10>,
             // BINARY.PEEK[1.2], and also mailbox names such as [Gmail]/Sent
};

struct token {
  token_kind kind = token_kind::atom;
  std::string text;             // everything but lists: see token_kind
  std::uint64_t number = 0;     // number only
  std::vector<token> children;  // list only

  bool is_list() const { return kind == token_kind::list; }
  bool is_string() const {
    return kind == token_kind::quoted || kind == token_kind::literal ||
           kind == token_kind::literal8;
  }
  // True for an atom (or number, NIL, section) equal to `upper` ignoring case.
  bool is_atom(std::string_view upper) const;
  // RFC 3501 astring: an atom made of ASTRING-CHARs (NIL and numbers
  // included) or a string. nullopt for lists and for sections holding
  // spaces, parens or quotes.
  std::optional<std::string_view> astring() const;
  // RFC 3501 list-mailbox (LIST / LSUB patterns): like astring() but the
  // atom may also hold the wildcards "%" and "*".
  std::optional<std::string_view> list_mailbox() const;
};

struct command {
  std::string tag;
  std::string name;  // upper-cased; "FETCH" for "UID FETCH" (then uid is true)
  bool uid = false;
  std::vector<token> args;
};

struct syntax_error {
  std::string message;  // fit for a tagged BAD: plain ASCII, never echoes raw input
};

// The value of a typed argument parser, or why the arguments are invalid.
template <class T>
class [[nodiscard]] syntax_result {
 public:
  syntax_result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  syntax_result(syntax_error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // Precondition: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  // Precondition: !ok().
  const syntax_error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, syntax_error> v_;
};

inline syntax_error make_syntax_error(std::string message) { return {std::move(message)}; }

// ASCII-only case helpers (IMAP keywords are ASCII): protocols/ascii.h.
using protocols::iequals_ascii;
using protocols::to_upper_ascii;

// RFC 3501 ASTRING-CHAR: ATOM-CHAR or "]".
bool is_astring_char(char c);

}  // namespace packmail::protocols::imap
