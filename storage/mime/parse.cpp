// mime::parse: one pass over the raw message at delivery.
//
// The entity tree and every byte offset come from our own scanner (header
// blocks and RFC 2046 boundary delimiters), because BODY[n.MIME], BODY[n.TEXT]
// etc. are served by slicing the stored bytes and must match them exactly.
// GMime does what it is good at: RFC 2047 header decoding, transfer decoding
// (base64, quoted-printable) and charset conversion to UTF-8.
//
// Rendering choices (RFC 3501 7.4.2):
// - ENVELOPE and BODYSTRUCTURE strings are the raw, unfolded header values;
//   RFC 2047 encoded-words are left for the client to decode.
// - Media type, subtype, parameter and disposition names and the transfer
//   encoding are upper-cased ("TEXT" "PLAIN" ("CHARSET" "us-ascii") ...
//   "7BIT"); parameter values are kept as written.
// - A string is sent quoted when every byte is 7-bit, non-NUL and not CR/LF,
//   otherwise as a literal {n}\r\n...
// - Sizes are octets of the stored bytes; line counts are the number of LFs.
// - message/rfc822 and message/global are always parsed as an encapsulated
//   message (RFC 2046 5.2.1 allows only 7bit/8bit/binary for them).
// - Missing or invalid fields follow Dovecot: "MISSING_MAILBOX" and
//   "MISSING_DOMAIN" in addresses, a comment as the name of "a@b (Name)", and
//   one empty text/plain body for a multipart without parts.
#include <gmime/gmime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "packmail/storage/mime.h"

namespace packmail::storage::mime {
namespace {

// Entities nested deeper than this are served as opaque leaves
// (application/octet-stream), bounding recursion on hostile input.
constexpr int k_max_depth = 100;

// RFC 3501 7.4.2: a multipart must contain at least one body; Dovecot sends
// this one when the message has none (e.g. the boundary never occurs).
constexpr std::string_view k_empty_body =
    R"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0))";
constexpr std::string_view k_empty_bodystructure =
    R"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL))";

// ---------------------------------------------------------------------------
// Small string helpers

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_upper);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return is_wsp(c) || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 5322 2.2.3: unfolding removes each CRLF that is followed by WSP. Inside a
// header value every line end is such a fold, so all of them go.
std::string unfold(std::string_view folded) {
  std::string out;
  out.reserve(folded.size());
  for (std::size_t i = 0; i < folded.size(); ++i) {
    char c = folded[i];
    if (c == '\n') continue;
    if (c == '\r' && i + 1 < folded.size() && folded[i + 1] == '\n') continue;
    out.push_back(c);
  }
  return std::string(trim(out));
}

std::uint64_t count_lines(std::string_view s) {
  return static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
}

// ---------------------------------------------------------------------------
// IMAP string rendering

bool quotable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u != 0 && u < 0x80 && c != '\r' && c != '\n';
  });
}

void append_string(std::string& out, std::string_view s) {
  if (!quotable(s)) {
    out += '{';
    out += std::to_string(s.size());
    out += "}\r\n";
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_nstring(std::string& out, const std::optional<std::string>& s) {
  if (s) {
    append_string(out, *s);
  } else {
    out += "NIL";
  }
}

// ---------------------------------------------------------------------------
// Header blocks

struct header_field {
  std::string_view name;
  std::string_view folded_value;  // after the colon, continuation lines included
};

struct header_block {
  std::vector<header_field> fields;
  std::size_t length = 0;  // bytes, the terminating blank line included
};

// Scans the header starting at begin. It ends after the first empty line, or
// at end when there is none (then the entity has an empty body).
header_block scan_header(std::string_view raw, std::size_t begin, std::size_t end) {
  header_block block;
  std::size_t pos = begin;
  while (pos < end) {
    std::size_t nl = raw.find('\n', pos);
    std::size_t line_end = (nl == std::string_view::npos || nl >= end) ? end : nl + 1;
    std::string_view line = raw.substr(pos, line_end - pos);
    std::string_view content = line;
    if (!content.empty() && content.back() == '\n') content.remove_suffix(1);
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (content.empty() && line.size() > 0 && line.back() == '\n') {
      pos = line_end;
      break;
    }
    if (is_wsp(line.front()) && !block.fields.empty()) {
      std::string_view& value = block.fields.back().folded_value;
      value = raw.substr(static_cast<std::size_t>(value.data() - raw.data()),
                         static_cast<std::size_t>(content.data() + content.size() - value.data()));
    } else if (std::size_t colon = content.find(':'); colon != std::string_view::npos) {
      std::string_view name = content.substr(0, colon);
      while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
      block.fields.push_back({name, content.substr(colon + 1)});
    }
    // A line that is neither a field nor a continuation stays in the header
    // bytes but carries no field (as Dovecot and GMime tolerate it).
    pos = line_end;
  }
  block.length = pos - begin;
  return block;
}

const header_field* find_field(const header_block& block, std::string_view name) {
  for (const header_field& f : block.fields) {
    if (iequals(f.name, name)) return &f;
  }
  return nullptr;
}

std::optional<std::string> field_value(const header_block& block, std::string_view name) {
  const header_field* f = find_field(block, name);
  if (f == nullptr) return std::nullopt;
  return unfold(f->folded_value);
}

// ---------------------------------------------------------------------------
// RFC 822/2045 lexical scanning, lenient: every call makes progress or reports
// that it found nothing, so malformed input cannot loop.

class lexer {
 public:
  explicit lexer(std::string_view s) : s_(s) {}

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void advance() {
    if (!at_end()) ++pos_;
  }

  // Skips white space and (nested) comments; remembers the last comment,
  // which Dovecot uses as the display name of "user@host (Name)".
  void skip_cfws() {
    while (!at_end()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (c == '(') {
        last_comment_ = read_comment();
      } else {
        break;
      }
    }
  }

  std::string take_last_comment() { return std::exchange(last_comment_, {}); }

  // RFC 2045 token: any CHAR except SPACE, CTLs and tspecials.
  std::string read_token() {
    std::size_t start = pos_;
    while (!at_end() && is_token_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  // RFC 5322 atom, with '.' allowed (dot-atom and obs-phrase alike).
  std::string read_atom() {
    std::size_t start = pos_;
    while (!at_end() && is_atom_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  // Reads "..." (the opening quote is current), unescaping quoted-pairs. An
  // unterminated string runs to the end.
  std::string read_quoted() {
    std::string out;
    ++pos_;
    while (!at_end()) {
      char c = s_[pos_++];
      if (c == '"') break;
      if (c == '\\' && !at_end()) c = s_[pos_++];
      out += c;
    }
    return out;
  }

  // Reads [...] verbatim (the opening bracket is current).
  std::string read_domain_literal() {
    std::size_t start = pos_;
    while (!at_end()) {
      char c = s_[pos_++];
      if (c == '\\' && !at_end()) {
        ++pos_;
      } else if (c == ']') {
        break;
      }
    }
    return std::string(s_.substr(start, pos_ - start));
  }

 private:
  static bool is_token_char(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
    return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
  }

  static bool is_atom_char(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
    return std::string_view("()<>@,;:\\\"[]").find(c) == std::string_view::npos;
  }

  std::string read_comment() {
    std::string out;
    int depth = 0;
    while (!at_end()) {
      char c = s_[pos_++];
      if (c == '\\' && !at_end()) {
        out += s_[pos_++];
        continue;
      }
      if (c == '(') {
        if (depth++ == 0) continue;
      } else if (c == ')') {
        if (--depth == 0) break;
      }
      out += c;
    }
    return out;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string last_comment_;
};

// ---------------------------------------------------------------------------
// Content-* headers

using param_list = std::vector<std::pair<std::string, std::string>>;

struct rfc2231_section {
  std::string base;
  int index = -1;  // -1: not a continuation
  bool extended = false;
};

rfc2231_section split_rfc2231_name(const std::string& name) {
  rfc2231_section s{name, -1, false};
  std::string_view n = name;
  if (!n.empty() && n.back() == '*') {
    s.extended = true;
    n.remove_suffix(1);
  }
  std::size_t star = n.rfind('*');
  if (star != std::string_view::npos && star + 1 < n.size() && n.size() - star <= 4 &&
      std::all_of(n.begin() + static_cast<std::ptrdiff_t>(star) + 1, n.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    s.index = std::stoi(std::string(n.substr(star + 1)));
    n = n.substr(0, star);
  }
  s.base = std::string(n);
  if (s.index < 0 && s.extended) s.base += '*';
  return s;
}

// RFC 2231 3: "name*0", "name*1*" ... are merged into one parameter, named
// "name*" (value still charset'lang'%XX-encoded) when any section is
// extended, as Dovecot does; other parameters are kept as written.
param_list merge_rfc2231(const param_list& raw) {
  struct merged {
    std::string base;
    std::vector<std::pair<int, std::pair<bool, std::string>>> sections;
  };
  param_list out;
  std::vector<merged> continued;
  std::vector<std::pair<bool, std::size_t>> order;  // (is continued, index)
  for (const auto& [name, value] : raw) {
    rfc2231_section s = split_rfc2231_name(name);
    if (s.index < 0) {
      order.emplace_back(false, out.size());
      out.emplace_back(name, value);
      continue;
    }
    auto it = std::find_if(continued.begin(), continued.end(),
                           [&](const merged& m) { return iequals(m.base, s.base); });
    if (it == continued.end()) {
      order.emplace_back(true, continued.size());
      continued.push_back({s.base, {}});
      it = continued.end() - 1;
    }
    it->sections.push_back({s.index, {s.extended, value}});
  }
  param_list result;
  for (auto [is_continued, index] : order) {
    if (!is_continued) {
      result.push_back(std::move(out[index]));
      continue;
    }
    merged& m = continued[index];
    std::stable_sort(m.sections.begin(), m.sections.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    bool any_extended = std::any_of(m.sections.begin(), m.sections.end(),
                                    [](const auto& sec) { return sec.second.first; });
    std::string value;
    for (const auto& [idx, sec] : m.sections) {
      const auto& [extended, text] = sec;
      if (extended || !any_extended) {
        value += text;
        continue;
      }
      // A plain section inside an extended value must be %-encoded to keep
      // the whole value decodable.
      for (unsigned char c : text) {
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '*' || c == '\'') {
          static constexpr char hex[] = "0123456789ABCDEF";
          value += '%';
          value += hex[c >> 4];
          value += hex[c & 0xf];
        } else {
          value += static_cast<char>(c);
        }
      }
    }
    result.emplace_back(any_extended ? m.base + "*" : m.base, std::move(value));
  }
  return result;
}

// Parses ";" attribute "=" value pairs up to the end of the header value.
param_list parse_params(lexer& lex) {
  param_list params;
  while (true) {
    lex.skip_cfws();
    if (lex.at_end()) break;
    if (lex.peek() != ';') {
      // Garbage between parameters: skip to the next ';'.
      lex.advance();
      continue;
    }
    lex.advance();
    lex.skip_cfws();
    std::string name = lex.read_token();
    lex.skip_cfws();
    if (name.empty() || lex.peek() != '=') continue;
    lex.advance();
    lex.skip_cfws();
    std::string value = lex.peek() == '"' ? lex.read_quoted() : lex.read_token();
    params.emplace_back(std::move(name), std::move(value));
  }
  return merge_rfc2231(params);
}

const std::string* find_param(const param_list& params, std::string_view name) {
  for (const auto& [n, v] : params) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

struct content_info {
  std::string type;     // as written, or the default
  std::string subtype;  // as written, or the default
  param_list params;
  std::optional<std::string> id, description, md5, location;
  std::string encoding;  // upper case; "7BIT" by default
  std::optional<std::string> disposition;
  param_list disposition_params;
  std::vector<std::string> languages;
};

bool is_type(const content_info& c, std::string_view type) { return iequals(c.type, type); }
bool is_type(const content_info& c, std::string_view type, std::string_view subtype) {
  return iequals(c.type, type) && iequals(c.subtype, subtype);
}

// RFC 2045 5.2 / RFC 2046 5.1.5: a missing or unparsable Content-Type is
// text/plain; charset=us-ascii, or message/rfc822 inside multipart/digest.
void read_content_type(const header_block& h, bool in_digest, content_info& c) {
  if (std::optional<std::string> value = field_value(h, "Content-Type")) {
    lexer lex(*value);
    lex.skip_cfws();
    std::string type = lex.read_token();
    lex.skip_cfws();
    if (!type.empty() && lex.peek() == '/') {
      lex.advance();
      lex.skip_cfws();
      std::string subtype = lex.read_token();
      if (!subtype.empty()) {
        c.type = std::move(type);
        c.subtype = std::move(subtype);
        c.params = parse_params(lex);
      }
    }
  }
  if (c.type.empty()) {
    c.type = in_digest ? "message" : "text";
    c.subtype = in_digest ? "rfc822" : "plain";
  }
  if (is_type(c, "text") && find_param(c.params, "charset") == nullptr) {
    c.params.emplace_back("charset", "us-ascii");
  }
}

content_info read_content(const header_block& h, bool in_digest) {
  content_info c;
  read_content_type(h, in_digest, c);
  c.id = field_value(h, "Content-ID");
  c.description = field_value(h, "Content-Description");
  c.md5 = field_value(h, "Content-MD5");
  c.location = field_value(h, "Content-Location");
  if (std::optional<std::string> cte = field_value(h, "Content-Transfer-Encoding")) {
    lexer lex(*cte);
    lex.skip_cfws();
    c.encoding = to_upper(lex.read_token());
  }
  if (c.encoding.empty()) c.encoding = "7BIT";
  if (std::optional<std::string> disp = field_value(h, "Content-Disposition")) {
    lexer lex(*disp);
    lex.skip_cfws();
    std::string type = lex.read_token();
    if (!type.empty()) {
      c.disposition = std::move(type);
      c.disposition_params = parse_params(lex);
    }
  }
  if (std::optional<std::string> lang = field_value(h, "Content-Language")) {
    lexer lex(*lang);
    while (true) {
      lex.skip_cfws();
      if (lex.at_end()) break;
      std::string tag = lex.read_token();
      if (tag.empty()) {
        lex.advance();
      } else {
        c.languages.push_back(std::move(tag));
      }
    }
  }
  return c;
}

// ---------------------------------------------------------------------------
// ENVELOPE addresses (RFC 3501 7.4.2, RFC 5322 3.4), lenient

struct address {
  std::optional<std::string> name, adl, mailbox, host;
};

// RFC 3501: host NIL marks group syntax, so a real address never has one.
constexpr std::string_view k_missing_mailbox = "MISSING_MAILBOX";
constexpr std::string_view k_missing_domain = "MISSING_DOMAIN";

// Reads a run of atoms and quoted strings: a display name or a local part.
// Returns the words; sets `dotted` to the words glued without spaces.
std::vector<std::string> read_words(lexer& lex, std::string& glued) {
  std::vector<std::string> words;
  while (true) {
    lex.skip_cfws();
    std::string word;
    if (lex.peek() == '"') {
      word = lex.read_quoted();
    } else {
      word = lex.read_atom();
      if (word.empty()) break;
    }
    glued += word;
    words.push_back(std::move(word));
  }
  return words;
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::string read_domain(lexer& lex) {
  std::string domain;
  while (true) {
    lex.skip_cfws();
    if (lex.peek() == '[') {
      domain += lex.read_domain_literal();
      continue;
    }
    std::string atom = lex.read_atom();
    if (atom.empty()) break;
    domain += atom;
  }
  return domain;
}

address make_address(std::optional<std::string> name, std::string mailbox, std::string host) {
  address a;
  if (name && !name->empty()) a.name = std::move(name);
  a.mailbox = mailbox.empty() ? std::string(k_missing_mailbox) : std::move(mailbox);
  a.host = host.empty() ? std::string(k_missing_domain) : std::move(host);
  return a;
}

// angle-addr = "<" [obs-route] addr-spec ">"; the '<' is current.
address read_angle_addr(lexer& lex, std::string display_name) {
  lex.advance();
  lex.skip_cfws();
  std::optional<std::string> route;
  if (lex.peek() == '@') {
    std::string r;
    while (lex.peek() == '@' || lex.peek() == ',') {
      r += lex.peek();
      lex.advance();
      r += read_domain(lex);
      lex.skip_cfws();
    }
    if (lex.peek() == ':') lex.advance();
    route = std::move(r);
  }
  std::string local;
  read_words(lex, local);
  std::string host;
  lex.skip_cfws();
  if (lex.peek() == '@') {
    lex.advance();
    host = read_domain(lex);
  }
  // Skip anything up to the closing '>'.
  while (!lex.at_end() && lex.peek() != '>') lex.advance();
  lex.advance();
  address a = make_address(std::move(display_name), std::move(local), std::move(host));
  a.adl = std::move(route);
  return a;
}

std::vector<address> parse_address_list(std::string_view value) {
  std::vector<address> out;
  lexer lex(value);
  bool in_group = false;
  while (true) {
    lex.skip_cfws();
    if (lex.at_end()) break;
    char c = lex.peek();
    if (c == ',') {
      lex.advance();
      continue;
    }
    if (c == ';') {
      lex.advance();
      if (in_group) out.push_back({});  // (NIL NIL NIL NIL) ends the group
      in_group = false;
      continue;
    }
    lex.take_last_comment();
    std::string glued;
    std::vector<std::string> words = read_words(lex, glued);
    lex.skip_cfws();
    c = lex.peek();
    if (c == '<') {
      out.push_back(read_angle_addr(lex, join_words(words)));
    } else if (c == ':' && !in_group) {
      lex.advance();
      address start;
      start.mailbox = join_words(words);
      out.push_back(std::move(start));
      in_group = true;
    } else if (c == '@') {
      lex.advance();
      std::string host = read_domain(lex);
      lex.skip_cfws();
      out.push_back(make_address(lex.take_last_comment(), std::move(glued), std::move(host)));
    } else if (!words.empty()) {
      // A bare local part ("To: user"): no domain to report.
      out.push_back(make_address(lex.take_last_comment(), std::move(glued), {}));
    } else {
      lex.advance();  // a stray special character: skip it
    }
  }
  if (in_group) out.push_back({});
  return out;
}

void append_address_list(std::string& out, const std::optional<std::string>& value) {
  std::vector<address> list;
  if (value) list = parse_address_list(*value);
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const address& a : list) {
    out += '(';
    append_nstring(out, a.name);
    out += ' ';
    append_nstring(out, a.adl);
    out += ' ';
    append_nstring(out, a.mailbox);
    out += ' ';
    append_nstring(out, a.host);
    out += ')';
  }
  out += ')';
}

bool has_addresses(const std::optional<std::string>& value) {
  return value && !parse_address_list(*value).empty();
}

std::string render_envelope(const header_block& h) {
  std::optional<std::string> from = field_value(h, "From");
  std::optional<std::string> sender = field_value(h, "Sender");
  std::optional<std::string> reply_to = field_value(h, "Reply-To");
  // RFC 3501 7.4.2: absent or empty Sender/Reply-To take the From value.
  if (!has_addresses(sender)) sender = from;
  if (!has_addresses(reply_to)) reply_to = from;

  std::string out = "(";
  append_nstring(out, field_value(h, "Date"));
  out += ' ';
  append_nstring(out, field_value(h, "Subject"));
  for (const std::optional<std::string>& list : {from, sender, reply_to, field_value(h, "To"),
                                                 field_value(h, "Cc"), field_value(h, "Bcc")}) {
    out += ' ';
    append_address_list(out, list);
  }
  out += ' ';
  append_nstring(out, field_value(h, "In-Reply-To"));
  out += ' ';
  append_nstring(out, field_value(h, "Message-ID"));
  out += ')';
  return out;
}

// ---------------------------------------------------------------------------
// BODY / BODYSTRUCTURE rendering

void append_params(std::string& out, const param_list& params) {
  if (params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const auto& [name, value] : params) {
    if (!first) out += ' ';
    first = false;
    append_string(out, to_upper(name));
    out += ' ';
    append_string(out, value);
  }
  out += ')';
}

// body-ext-1part after the MD5, and body-ext-mpart after the parameters:
// disposition, language, location.
void append_disposition_language_location(std::string& out, const content_info& c) {
  out += ' ';
  if (c.disposition) {
    out += '(';
    append_string(out, to_upper(*c.disposition));
    out += ' ';
    append_params(out, c.disposition_params);
    out += ')';
  } else {
    out += "NIL";
  }
  out += ' ';
  if (c.languages.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (std::size_t i = 0; i < c.languages.size(); ++i) {
      if (i > 0) out += ' ';
      append_string(out, c.languages[i]);
    }
    out += ')';
  }
  out += ' ';
  append_nstring(out, c.location);
}

// The result of parsing one entity.
struct rendered {
  std::string body;           // BODY form
  std::string bodystructure;  // BODYSTRUCTURE form
  std::string envelope;       // only for message entities
};

// "type" "subtype" params id description encoding size
void append_body_fields(std::string& out, const content_info& c, std::uint64_t size) {
  append_string(out, to_upper(c.type));
  out += ' ';
  append_string(out, to_upper(c.subtype));
  out += ' ';
  append_params(out, c.params);
  out += ' ';
  append_nstring(out, c.id);
  out += ' ';
  append_nstring(out, c.description);
  out += ' ';
  append_string(out, c.encoding);
  out += ' ';
  out += std::to_string(size);
}

// ---------------------------------------------------------------------------
// Decoded text for SEARCH

struct gfree_deleter {
  void operator()(char* p) const { g_free(p); }
};
using gchar_ptr = std::unique_ptr<char, gfree_deleter>;

std::string to_utf8(std::string_view bytes, const std::string* charset) {
  if (bytes.empty()) return {};
  if (g_utf8_validate(bytes.data(), static_cast<gssize>(bytes.size()), nullptr)) {
    return std::string(bytes);
  }
  if (charset != nullptr && !iequals(*charset, "us-ascii") && !iequals(*charset, "utf-8")) {
    iconv_t cd = g_mime_iconv_open("UTF-8", charset->c_str());
    if (cd != reinterpret_cast<iconv_t>(-1)) {
      gchar_ptr converted(g_mime_iconv_strndup(cd, bytes.data(), bytes.size()));
      g_mime_iconv_close(cd);
      if (converted && g_utf8_validate(converted.get(), -1, nullptr)) {
        return std::string(converted.get());
      }
    }
  }
  // Undeclared, unknown or lying charset: let GMime guess (its fallback list
  // ends in a charset that accepts every byte).
  gchar_ptr guessed(g_mime_utils_decode_8bit(nullptr, bytes.data(), bytes.size()));
  return guessed ? std::string(guessed.get()) : std::string();
}

std::string transfer_decode(std::string_view bytes, const std::string& encoding) {
  GMimeContentEncoding e = g_mime_content_encoding_from_string(encoding.c_str());
  // x-uuencode is left as is: GMime's step decoder expects the "begin" line
  // already consumed, and such bodies are rare in SEARCH.
  if (e != GMIME_CONTENT_ENCODING_BASE64 && e != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) {
    return std::string(bytes);
  }
  GMimeEncoding state;
  g_mime_encoding_init_decode(&state, e);
  std::string out(g_mime_encoding_outlen(&state, bytes.size()) + 64, '\0');
  std::size_t n = g_mime_encoding_step(&state, bytes.data(), bytes.size(), out.data());
  n += g_mime_encoding_flush(&state, nullptr, 0, out.data() + n);
  out.resize(n);
  return out;
}

std::string decode_header_text(const std::string& value) {
  gchar_ptr decoded(g_mime_utils_header_decode_text(nullptr, value.c_str()));
  if (decoded && g_utf8_validate(decoded.get(), -1, nullptr)) return std::string(decoded.get());
  return to_utf8(value, nullptr);
}

// ---------------------------------------------------------------------------
// The entity walk

struct parse_context {
  std::string_view raw;
  std::string text;
};

// RFC 2046 5.1.1: a delimiter is "--" boundary at the start of a line,
// optionally followed by "--" (the close delimiter) and then only white space.
// Returns 0 for no delimiter, 1 for a delimiter, 2 for the close delimiter.
int delimiter_kind(std::string_view line, std::string_view boundary) {
  if (line.size() < boundary.size() + 2 || line[0] != '-' || line[1] != '-' ||
      line.substr(2, boundary.size()) != boundary) {
    return 0;
  }
  std::string_view rest = line.substr(boundary.size() + 2);
  int kind = 1;
  if (rest.substr(0, 2) == "--") {
    kind = 2;
    rest.remove_prefix(2);
  }
  return trim(rest).empty() ? kind : 0;
}

// Returns the [begin, end) ranges of the body parts of a multipart body.
// RFC 2046 5.1.1: the CRLF before a delimiter belongs to the delimiter, so a
// part ends before it.
std::vector<std::pair<std::size_t, std::size_t>> split_multipart(std::string_view raw,
                                                                 std::size_t begin, std::size_t end,
                                                                 std::string_view boundary) {
  std::vector<std::pair<std::size_t, std::size_t>> parts;
  std::optional<std::size_t> part_start;
  std::size_t pos = begin;
  while (pos < end) {
    std::size_t nl = raw.find('\n', pos);
    std::size_t line_end = (nl == std::string_view::npos || nl >= end) ? end : nl + 1;
    int kind = delimiter_kind(raw.substr(pos, line_end - pos), boundary);
    if (kind != 0) {
      if (part_start) {
        std::size_t part_end = pos;
        if (part_end > begin && raw[part_end - 1] == '\n') --part_end;
        if (part_end > begin && raw[part_end - 1] == '\r') --part_end;
        parts.emplace_back(*part_start, std::max(*part_start, part_end));
      }
      if (kind == 2) return parts;  // the rest is the epilogue
      part_start = line_end;
    }
    pos = line_end;
  }
  // No close delimiter: the last part runs to the end of the body, unless it
  // is nothing but a delimiter line ending the data (a truncated close).
  if (part_start && (*part_start < end || parts.empty())) parts.emplace_back(*part_start, end);
  return parts;
}

void parse_entity(parse_context& ctx, std::size_t begin, std::size_t end, int depth, bool in_digest,
                  bool is_message, part& out, rendered& r);

void parse_multipart(parse_context& ctx, const content_info& c, int depth, part& out, rendered& r) {
  const std::string* boundary = find_param(c.params, "boundary");
  if (boundary != nullptr && !boundary->empty()) {
    bool digest = iequals(c.subtype, "digest");
    for (auto [b, e] :
         split_multipart(ctx.raw, out.body_offset, out.body_offset + out.body_length, *boundary)) {
      part child;
      rendered child_r;
      parse_entity(ctx, b, e, depth + 1, digest, false, child, child_r);
      out.children.push_back(std::move(child));
      r.body += child_r.body;
      r.bodystructure += child_r.bodystructure;
    }
  }
  if (out.children.empty()) {
    r.body += k_empty_body;
    r.bodystructure += k_empty_bodystructure;
  }
  std::string subtype = " ";
  append_string(subtype, to_upper(c.subtype));
  r.body = "(" + r.body + subtype + ")";
  r.bodystructure += subtype;
  r.bodystructure += ' ';
  append_params(r.bodystructure, c.params);
  append_disposition_language_location(r.bodystructure, c);
  r.bodystructure = "(" + r.bodystructure + ")";
}

// message/rfc822: body fields, then the encapsulated ENVELOPE, BODY and lines.
void parse_encapsulated(parse_context& ctx, const content_info& c, int depth, part& out,
                        rendered& r) {
  part child;
  rendered child_r;
  parse_entity(ctx, out.body_offset, out.body_offset + out.body_length, depth + 1, false, true,
               child, child_r);
  out.children.push_back(std::move(child));
  std::string lines = std::to_string(count_lines(ctx.raw.substr(out.body_offset, out.body_length)));
  std::string head = "(";
  append_body_fields(head, c, out.body_length);
  head += ' ';
  head += child_r.envelope;
  head += ' ';
  r.body = head + child_r.body + ' ' + lines + ')';
  r.bodystructure = head + child_r.bodystructure + ' ' + lines + ' ';
  append_nstring(r.bodystructure, c.md5);
  append_disposition_language_location(r.bodystructure, c);
  r.bodystructure += ')';
}

void parse_leaf(parse_context& ctx, const content_info& c, const part& out, rendered& r) {
  std::string_view body = ctx.raw.substr(out.body_offset, out.body_length);
  std::string fields;
  append_body_fields(fields, c, out.body_length);
  if (is_type(c, "text")) {
    fields += ' ';
    fields += std::to_string(count_lines(body));
    if (!ctx.text.empty()) ctx.text += '\n';
    std::string decoded = transfer_decode(body, c.encoding);
    // GLib and iconv treat NUL as the end of the text; SEARCH should still
    // see what follows it.
    std::replace(decoded.begin(), decoded.end(), '\0', ' ');
    ctx.text += to_utf8(decoded, find_param(c.params, "charset"));
  }
  r.body = "(" + fields + ")";
  r.bodystructure = "(" + fields + ' ';
  append_nstring(r.bodystructure, c.md5);
  append_disposition_language_location(r.bodystructure, c);
  r.bodystructure += ')';
}

void parse_entity(parse_context& ctx, std::size_t begin, std::size_t end, int depth, bool in_digest,
                  bool is_message, part& out, rendered& r) {
  header_block h = scan_header(ctx.raw, begin, end);
  out.header_offset = begin;
  out.header_length = h.length;
  out.body_offset = begin + h.length;
  out.body_length = end - out.body_offset;
  out.is_message = is_message;

  content_info c = read_content(h, in_digest);
  bool multipart = is_type(c, "multipart");
  bool encapsulated = is_type(c, "message", "rfc822") || is_type(c, "message", "global");
  if ((multipart || encapsulated) && depth >= k_max_depth) {
    c.type = "application";
    c.subtype = "octet-stream";
    c.params.clear();
    multipart = encapsulated = false;
  }
  out.type = to_lower(c.type);
  out.subtype = to_lower(c.subtype);
  if (is_message) r.envelope = render_envelope(h);

  if (multipart) {
    parse_multipart(ctx, c, depth, out, r);
  } else if (encapsulated) {
    parse_encapsulated(ctx, c, depth, out, r);
  } else {
    parse_leaf(ctx, c, out, r);
  }
}

std::vector<std::pair<std::string, std::string>> decoded_headers(std::string_view raw,
                                                                 const part& root) {
  header_block h = scan_header(raw, root.header_offset, root.header_offset + root.header_length);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(h.fields.size());
  for (const header_field& f : h.fields) {
    out.emplace_back(std::string(f.name), decode_header_text(unfold(f.folded_value)));
  }
  return out;
}

void init_gmime_once() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

}  // namespace

message_structure parse(std::string_view raw) {
  init_gmime_once();
  parse_context ctx{raw, {}};
  message_structure s;
  rendered r;
  parse_entity(ctx, 0, raw.size(), 0, false, true, s.root, r);
  s.envelope = std::move(r.envelope);
  s.body = std::move(r.body);
  s.bodystructure = std::move(r.bodystructure);
  s.headers = decoded_headers(raw, s.root);
  s.text = std::move(ctx.text);
  return s;
}

}  // namespace packmail::storage::mime
