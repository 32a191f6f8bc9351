#include "packmail/protocols/imap/search_keys.h"

namespace packmail::protocols::imap {

namespace {

using kind = search_key::kind;

class key_parser {
 public:
  explicit key_parser(std::span<const token> tokens) : tokens_(tokens) {}

  bool at_end() const { return i_ == tokens_.size(); }
  const std::string& error() const { return error_; }

  bool parse_key(search_key& out, std::size_t depth) {
    if (depth > k_max_search_depth) return fail("Search expression nested too deeply");
    if (at_end()) return fail("Missing search key");
    const token& t = tokens_[i_++];
    if (t.is_list()) {
      // RFC 3501 9: search-key =/ "(" search-key *(SP search-key) ")"
      if (t.children.empty()) return fail("Empty search group");
      out.what = kind::all_of;
      key_parser inner(t.children);
      while (!inner.at_end()) {
        search_key child;
        if (!inner.parse_key(child, depth + 1)) return fail(inner.error());
        out.children.push_back(std::move(child));
      }
      return true;
    }
    if (t.kind != token_kind::atom && t.kind != token_kind::number) {
      return fail("Invalid search key");
    }
    const char first = t.text.empty() ? '\0' : t.text[0];
    if ((first >= '0' && first <= '9') || first == '*' || first == '$') {
      auto set = sequence_set::parse(t.text);
      if (!set) return fail(set.error().message);
      out.what = kind::sequence_numbers;
      out.set = std::move(set.value());
      return true;
    }
    const std::string name = to_upper_ascii(t.text);
    struct simple {
      std::string_view name;
      kind what;
    };
    static constexpr simple k_flags[] = {
        {"ALL", kind::all},
        {"ANSWERED", kind::answered},
        {"DELETED", kind::deleted},
        {"DRAFT", kind::draft},
        {"FLAGGED", kind::flagged},
        {"NEW", kind::new_messages},
        {"OLD", kind::old},
        {"RECENT", kind::recent},
        {"SEEN", kind::seen},
        {"UNANSWERED", kind::unanswered},
        {"UNDELETED", kind::undeleted},
        {"UNDRAFT", kind::undraft},
        {"UNFLAGGED", kind::unflagged},
        {"UNSEEN", kind::unseen},
    };
    for (const simple& s : k_flags) {
      if (name == s.name) {
        out.what = s.what;
        return true;
      }
    }
    static constexpr simple k_strings[] = {
        {"BCC", kind::bcc},         {"BODY", kind::body}, {"CC", kind::cc}, {"FROM", kind::from},
        {"SUBJECT", kind::subject}, {"TEXT", kind::text}, {"TO", kind::to},
    };
    for (const simple& s : k_strings) {
      if (name == s.name) {
        out.what = s.what;
        return read_astring(out.text);
      }
    }
    static constexpr simple k_dates[] = {
        {"BEFORE", kind::before},  {"ON", kind::on},
        {"SINCE", kind::since},    {"SENTBEFORE", kind::sent_before},
        {"SENTON", kind::sent_on}, {"SENTSINCE", kind::sent_since},
    };
    for (const simple& s : k_dates) {
      if (name == s.name) {
        out.what = s.what;
        return read_date(out.date);
      }
    }
    if (name == "LARGER" || name == "SMALLER") {
      out.what = name == "LARGER" ? kind::larger : kind::smaller;
      return read_number(out.number);
    }
    if (name == "KEYWORD" || name == "UNKEYWORD") {
      out.what = name == "KEYWORD" ? kind::keyword : kind::unkeyword;
      // flag-keyword = atom
      if (at_end() || tokens_[i_].kind != token_kind::atom || !tokens_[i_].astring()) {
        return fail("KEYWORD expects a flag keyword");
      }
      out.text = tokens_[i_++].text;
      return true;
    }
    if (name == "HEADER") {
      out.what = kind::header;
      return read_astring(out.text) && read_astring(out.value);
    }
    if (name == "UID") {
      out.what = kind::uid;
      if (at_end() ||
          (tokens_[i_].kind != token_kind::atom && tokens_[i_].kind != token_kind::number)) {
        return fail("UID expects a sequence set");
      }
      auto set = sequence_set::parse(tokens_[i_++].text);
      if (!set) return fail(set.error().message);
      out.set = std::move(set.value());
      return true;
    }
    if (name == "NOT" || name == "OR") {
      out.what = name == "NOT" ? kind::not_ : kind::or_;
      const std::size_t count = name == "NOT" ? 1 : 2;
      for (std::size_t n = 0; n < count; ++n) {
        search_key child;
        if (!parse_key(child, depth + 1)) return false;
        out.children.push_back(std::move(child));
      }
      return true;
    }
    if (name == "MODSEQ") {
      // RFC 7162 3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP
      // mod-sequence-valzer; entry-name is a quoted "/flags/<flag>".
      out.what = kind::modseq;
      if (!at_end() && tokens_[i_].is_string()) {
        out.text = tokens_[i_++].text;
        if (at_end() || tokens_[i_].kind != token_kind::atom) return fail("Invalid MODSEQ entry");
        out.value = to_upper_ascii(tokens_[i_++].text);
        if (out.value != "PRIV" && out.value != "SHARED" && out.value != "ALL") {
          return fail("Invalid MODSEQ entry type");
        }
      }
      return read_number(out.number);
    }
    return fail("Unknown search key");
  }

 private:
  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }
  bool read_astring(std::string& out) {
    if (at_end()) return fail("Missing search string");
    const auto s = tokens_[i_++].astring();
    if (!s) return fail("Invalid search string");
    out.assign(*s);
    return true;
  }
  bool read_number(std::uint64_t& out) {
    if (at_end() || tokens_[i_].kind != token_kind::number) return fail("Expected a number");
    out = tokens_[i_++].number;
    return true;
  }
  bool read_date(date& out) {
    // RFC 3501 9: date = date-text / DQUOTE date-text DQUOTE
    if (at_end()) return fail("Missing date");
    const token& t = tokens_[i_++];
    if (t.kind != token_kind::atom && t.kind != token_kind::quoted) return fail("Invalid date");
    auto d = parse_date(t.text);
    if (!d) return fail(d.error().message);
    out = d.value();
    return true;
  }

  std::span<const token> tokens_;
  std::size_t i_ = 0;
  std::string error_;
};

}  // namespace

syntax_result<search_request> parse_search(std::span<const token> args) {
  search_request request;
  request.key.what = kind::all_of;
  std::size_t i = 0;
  // RFC 4731 3.1: search = "SEARCH" [search-return-opts] [SP "CHARSET" SP astring] 1*(SP
  // search-key)
  if (i + 1 < args.size() && args[i].is_atom("RETURN") && args[i + 1].is_list()) {
    request.has_return = true;
    for (const token& option : args[i + 1].children) {
      static constexpr std::string_view k_options[] = {"MIN", "MAX", "ALL", "COUNT", "SAVE"};
      bool known = false;
      for (std::string_view o : k_options) known = known || option.is_atom(o);
      if (!known || option.kind != token_kind::atom) {
        return make_syntax_error("Unknown SEARCH RETURN option");
      }
      request.return_options.push_back(to_upper_ascii(option.text));
    }
    i += 2;
  }
  if (i + 1 < args.size() && args[i].is_atom("CHARSET")) {
    const auto charset = args[i + 1].astring();
    if (!charset) return make_syntax_error("Invalid CHARSET");
    request.charset = std::string(*charset);
    i += 2;
  }
  if (i == args.size()) return make_syntax_error("Missing search key");
  key_parser parser(args.subspan(i));
  while (!parser.at_end()) {
    search_key key;
    if (!parser.parse_key(key, 1)) return make_syntax_error(parser.error());
    request.key.children.push_back(std::move(key));
  }
  return request;
}

}  // namespace packmail::protocols::imap
