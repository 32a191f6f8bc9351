#include "packmail/protocols/imap/fetch_attributes.h"

#include <algorithm>

namespace packmail::protocols::imap {

namespace {

using item_kind = fetch_item::kind;

bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - d) / 10) return false;
    value = value * 10 + d;
  }
  out = value;
  return true;
}

// header-list = "(" header-fld-name *(SP header-fld-name) ")", names are astrings.
bool parse_header_list(std::string_view text, std::vector<std::string>& fields) {
  if (text.size() < 3 || text.front() != '(' || text.back() != ')') return false;
  text = text.substr(1, text.size() - 2);
  std::size_t i = 0;
  while (true) {
    std::string name;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\') {
          if (++i >= text.size() || (text[i] != '"' && text[i] != '\\')) return false;
        }
        name.push_back(text[i++]);
      }
      if (i >= text.size()) return false;
      ++i;
    } else {
      const std::size_t start = i;
      while (i < text.size() && is_astring_char(text[i])) ++i;
      if (i == start) return false;
      name.assign(text.substr(start, i - start));
    }
    // RFC 5322 2.2: field names are printable ASCII except ":".
    if (name.empty() || std::any_of(name.begin(), name.end(),
                                    [](char c) { return c <= 0x20 || c >= 0x7f || c == ':'; })) {
      return false;
    }
    fields.push_back(to_upper_ascii(name));
    if (i == text.size()) return true;
    if (text[i] != ' ') return false;
    ++i;
  }
}

bool parse_section(std::string_view text, bool binary, section_spec& out) {
  std::size_t i = 0;
  // section-part = nz-number *("." nz-number)
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    std::uint64_t n = 0;
    if (text[start] == '0' || !parse_u64(text.substr(start, i - start), n) || n > UINT32_MAX) {
      return false;
    }
    out.part.push_back(static_cast<std::uint32_t>(n));
    if (i == text.size()) return true;
    if (text[i] != '.') return false;
    ++i;
    if (i == text.size()) return false;
  }
  if (i == text.size()) return true;  // BODY[]
  if (binary) return false;           // section-binary = "[" [section-part] "]"
  const std::string_view rest = text.substr(i);
  const std::size_t space = rest.find(' ');
  const std::string name = to_upper_ascii(rest.substr(0, space));
  if (space == std::string_view::npos) {
    if (name == "HEADER") {
      out.text = section_spec::text_kind::header;
    } else if (name == "TEXT") {
      out.text = section_spec::text_kind::text;
    } else if (name == "MIME" && !out.part.empty()) {
      // RFC 3501 6.4.5: MIME only follows a part number.
      out.text = section_spec::text_kind::mime;
    } else {
      return false;
    }
    return true;
  }
  if (name == "HEADER.FIELDS") {
    out.text = section_spec::text_kind::header_fields;
  } else if (name == "HEADER.FIELDS.NOT") {
    out.text = section_spec::text_kind::header_fields_not;
  } else {
    return false;
  }
  return parse_header_list(rest.substr(space + 1), out.fields);
}

// The index of the "]" closing the section that starts after text[open].
std::size_t section_end(std::string_view text, std::size_t open) {
  bool quoted = false;
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (quoted && text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && text[i] == ']') {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

syntax_result<std::vector<fetch_item>> parse_fetch_item(std::string_view text) {
  auto invalid = [] { return make_syntax_error("Invalid FETCH attribute"); };
  const std::size_t open = text.find('[');
  const std::string name = to_upper_ascii(text.substr(0, open));
  if (open == std::string_view::npos) {
    struct simple {
      std::string_view name;
      item_kind what;
    };
    static constexpr simple k_simple[] = {
        {"ENVELOPE", item_kind::envelope},
        {"FLAGS", item_kind::flags},
        {"INTERNALDATE", item_kind::internal_date},
        {"RFC822", item_kind::rfc822},
        {"RFC822.HEADER", item_kind::rfc822_header},
        {"RFC822.SIZE", item_kind::rfc822_size},
        {"RFC822.TEXT", item_kind::rfc822_text},
        {"BODY", item_kind::body},
        {"BODYSTRUCTURE", item_kind::body_structure},
        {"UID", item_kind::uid},
        {"MODSEQ", item_kind::modseq},
    };
    for (const simple& s : k_simple) {
      if (name == s.name) return std::vector<fetch_item>{fetch_item{s.what, false, {}, {}}};
    }
    // RFC 3501 6.4.5 macros.
    auto items = [](std::initializer_list<item_kind> kinds) {
      std::vector<fetch_item> out;
      for (item_kind k : kinds) out.push_back(fetch_item{k, false, {}, {}});
      return out;
    };
    if (name == "FAST") {
      return items({item_kind::flags, item_kind::internal_date, item_kind::rfc822_size});
    }
    if (name == "ALL") {
      return items({item_kind::flags, item_kind::internal_date, item_kind::rfc822_size,
                    item_kind::envelope});
    }
    if (name == "FULL") {
      return items({item_kind::flags, item_kind::internal_date, item_kind::rfc822_size,
                    item_kind::envelope, item_kind::body});
    }
    return invalid();
  }
  fetch_item item;
  if (name == "BODY") {
    item.what = item_kind::body_section;
  } else if (name == "BODY.PEEK") {
    item.what = item_kind::body_section;
    item.peek = true;
  } else if (name == "BINARY") {
    item.what = item_kind::binary;
  } else if (name == "BINARY.PEEK") {
    item.what = item_kind::binary;
    item.peek = true;
  } else if (name == "BINARY.SIZE") {
    item.what = item_kind::binary_size;
  } else {
    return invalid();
  }
  const std::size_t close = section_end(text, open);
  if (close == std::string_view::npos) return invalid();
  if (!parse_section(text.substr(open + 1, close - open - 1), item.what != item_kind::body_section,
                     item.section)) {
    return make_syntax_error("Invalid FETCH section");
  }
  const std::string_view after = text.substr(close + 1);
  if (!after.empty()) {
    // partial = "<" number64 "." nz-number64 ">"; none on BINARY.SIZE.
    const std::size_t dot = after.find('.');
    partial_range p;
    if (item.what == item_kind::binary_size || after.front() != '<' || after.back() != '>' ||
        dot == std::string_view::npos || !parse_u64(after.substr(1, dot - 1), p.offset) ||
        !parse_u64(after.substr(dot + 1, after.size() - dot - 2), p.length) || p.length == 0) {
      return make_syntax_error("Invalid FETCH partial");
    }
    item.partial = p;
  }
  return std::vector<fetch_item>{std::move(item)};
}

syntax_result<std::vector<fetch_item>> parse_fetch_attributes(const token& argument) {
  auto is_word = [](const token& t) {
    return t.kind == token_kind::atom || t.kind == token_kind::section;
  };
  if (is_word(argument)) return parse_fetch_item(argument.text);
  if (!argument.is_list() || argument.children.empty()) {
    return make_syntax_error("Invalid FETCH attributes");
  }
  std::vector<fetch_item> out;
  for (const token& t : argument.children) {
    if (!is_word(t) || t.is_atom("ALL") || t.is_atom("FAST") || t.is_atom("FULL")) {
      return make_syntax_error("Invalid FETCH attribute in list");
    }
    auto item = parse_fetch_item(t.text);
    if (!item) return item.error();
    out.push_back(std::move(item.value().front()));
  }
  return out;
}

syntax_result<fetch_request> parse_fetch(std::span<const token> args, bool uid) {
  if (args.size() < 2 || args.size() > 3)
    return make_syntax_error("FETCH expects 2 or 3 arguments");
  if (args[0].kind != token_kind::atom && args[0].kind != token_kind::number) {
    return make_syntax_error("Invalid sequence set");
  }
  auto set = sequence_set::parse(args[0].text);
  if (!set) return set.error();
  auto items = parse_fetch_attributes(args[1]);
  if (!items) return items.error();
  fetch_request request{std::move(set.value()), std::move(items.value()), std::nullopt, false};
  if (args.size() == 3) {
    // RFC 7162 3.1.4.1 / 3.2.6: fetch-modifier = "CHANGEDSINCE" SP
    // mod-sequence-valzer / "VANISHED"
    const token& mods = args[2];
    if (!mods.is_list() || mods.children.empty())
      return make_syntax_error("Invalid FETCH modifiers");
    for (std::size_t i = 0; i < mods.children.size(); ++i) {
      const token& m = mods.children[i];
      if (m.is_atom("CHANGEDSINCE") && !request.changed_since && i + 1 < mods.children.size() &&
          mods.children[i + 1].kind == token_kind::number &&
          mods.children[i + 1].number <= INT64_MAX) {
        request.changed_since = mods.children[++i].number;
      } else if (m.is_atom("VANISHED") && uid && !request.vanished) {
        request.vanished = true;
      } else {
        return make_syntax_error("Invalid FETCH modifier");
      }
    }
    if (request.vanished && !request.changed_since) {
      return make_syntax_error("VANISHED requires CHANGEDSINCE");
    }
    // RFC 7162 3.1.4.1: CHANGEDSINCE implies the MODSEQ data item.
    const bool has_modseq =
        std::any_of(request.items.begin(), request.items.end(),
                    [](const fetch_item& f) { return f.what == item_kind::modseq; });
    if (request.changed_since && !has_modseq) {
      request.items.push_back(fetch_item{item_kind::modseq, false, {}, {}});
    }
  }
  return request;
}

}  // namespace packmail::protocols::imap
