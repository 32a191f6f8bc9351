#include "packmail/protocols/lmtp/arguments.h"

#include <cstring>
#include <limits>

#include "packmail/protocols/ascii.h"

namespace packmail::protocols::lmtp {

namespace {

constexpr std::size_t k_max_domain = 255;  // RFC 5321 4.5.3.1.2

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 3.2.3 atext.
bool is_atext(char c) {
  return is_alnum(c) || (c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// sub-domain *("." sub-domain), sub-domain = 1*(ALPHA / DIGIT / "-" / "_").
// RFC 5321 forbids "_" and a leading or trailing "-"; real host names have them.
bool is_domain(std::string_view d) {
  if (d.empty() || d.size() > k_max_domain) return false;
  bool label_empty = true;
  for (char c : d) {
    if (c == '.') {
      if (label_empty) return false;
      label_empty = true;
    } else if (is_alnum(c) || c == '-' || c == '_') {
      label_empty = false;
    } else {
      return false;
    }
  }
  return !label_empty;
}

// "[" 1*dcontent "]", dcontent = %d33-90 / %d94-126 (RFC 5321 4.1.3).
bool is_address_literal(std::string_view d) {
  if (d.size() < 3 || d.size() > k_max_domain || d.front() != '[' || d.back() != ']') return false;
  for (char c : d.substr(1, d.size() - 2)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == '[' || c == '\\' || c == ']') return false;
  }
  return true;
}

// A Domain or address-literal ending at '>' , ',' or ':' (source routes) or
// the end of `s`; advances s past it.
bool read_domain(std::string_view& s, std::string& out) {
  std::size_t end = 0;
  if (!s.empty() && s.front() == '[') {
    end = s.find(']');
    if (end == std::string_view::npos) return false;
    ++end;
    if (!is_address_literal(s.substr(0, end))) return false;
  } else {
    while (end < s.size() && s[end] != '>' && s[end] != ',' && s[end] != ':') ++end;
    if (!is_domain(s.substr(0, end))) return false;
  }
  out.assign(s.substr(0, end));
  s.remove_prefix(end);
  return true;
}

argument_error error(argument_error_code code, std::string message) {
  return argument_error{code, std::move(message)};
}

// Path = "<" [ A-d-l ":" ] Mailbox ">" (RFC 5321 4.1.2), or "<>" when
// allow_null. On success `s` is past the '>'.
std::variant<std::optional<address>, argument_error> read_path(std::string_view& s,
                                                               bool allow_null) {
  const auto bad = [](std::string why) { return error(argument_error_code::bad_address, why); };
  if (s.empty() || s.front() != '<') {
    return error(argument_error_code::syntax, "Address must be enclosed in <>");
  }
  s.remove_prefix(1);
  if (!s.empty() && s.front() == '>') {
    s.remove_prefix(1);
    if (!allow_null) return bad("Empty address");
    return std::optional<address>{};
  }
  // A-d-l = At-domain *( "," At-domain ): "MUST BE accepted, SHOULD NOT be
  // generated, and SHOULD be ignored" (RFC 5321 4.1.2 / C).
  if (!s.empty() && s.front() == '@') {
    while (true) {
      std::string ignored;
      s.remove_prefix(1);
      if (!read_domain(s, ignored)) return bad("Bad source route");
      if (s.empty()) return bad("Unterminated address");
      if (s.front() == ':') {
        s.remove_prefix(1);
        break;
      }
      if (s.front() != ',' || s.size() < 2 || s[1] != '@') return bad("Bad source route");
      s.remove_prefix(1);
    }
  }

  address a;
  const std::string_view start = s;
  if (!s.empty() && s.front() == '"') {
    // Quoted-string: qtextSMTP = %d32-33 / %d35-91 / %d93-126,
    // quoted-pairSMTP = "\" %d32-126.
    s.remove_prefix(1);
    bool closed = false;
    while (!s.empty()) {
      const char c = s.front();
      s.remove_prefix(1);
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\\') {
        if (s.empty()) break;
        const auto u = static_cast<unsigned char>(s.front());
        if (u < 32 || u > 126) return bad("Bad character in quoted local part");
        a.local_part.push_back(s.front());
        s.remove_prefix(1);
        continue;
      }
      const auto u = static_cast<unsigned char>(c);
      if (u < 32 || u > 126) return bad("Bad character in quoted local part");
      a.local_part.push_back(c);
    }
    if (!closed) return bad("Unterminated quoted local part");
  } else {
    // Dot-string, leniently: any run of atext and '.'.
    while (!s.empty() && (is_atext(s.front()) || s.front() == '.')) {
      a.local_part.push_back(s.front());
      s.remove_prefix(1);
    }
    if (a.local_part.empty()) return bad("Empty local part");
  }
  if (!s.empty() && s.front() == '@') {
    s.remove_prefix(1);
    if (!read_domain(s, a.domain)) return bad("Bad domain");
  }
  if (s.empty() || s.front() != '>') return bad("Bad character in address");
  a.text.assign(start.substr(0, start.size() - s.size()));
  s.remove_prefix(1);
  return std::optional<address>(std::move(a));
}

// Skips "FROM:" / "TO:" (any case) and the blanks some clients put after it.
bool skip_keyword(std::string_view& s, std::string_view keyword) {
  if (s.size() < keyword.size() || !iequals_ascii(s.substr(0, keyword.size()), keyword)) {
    return false;
  }
  s.remove_prefix(keyword.size());
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  return true;
}

struct parameter {
  std::string_view keyword;
  std::optional<std::string_view> value;
};

// esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 4.1.2): calls
// `each` for every parameter; false on bad syntax.
template <class F>
std::optional<argument_error> for_each_parameter(std::string_view s, F each) {
  if (!s.empty() && !is_blank(s.front())) {
    return error(argument_error_code::syntax, "Garbage after the address");
  }
  while (true) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    std::size_t end = 0;
    while (end < s.size() && !is_blank(s[end])) ++end;
    const std::string_view item = s.substr(0, end);
    s.remove_prefix(end);
    parameter p;
    const std::size_t eq = item.find('=');
    p.keyword = item.substr(0, eq);
    if (eq != std::string_view::npos) p.value = item.substr(eq + 1);
    bool ok = !p.keyword.empty() && is_alnum(p.keyword.front());
    for (char c : p.keyword) ok = ok && (is_alnum(c) || c == '-');
    if (p.value) {
      ok = ok && !p.value->empty();
      for (char c : *p.value) {
        const auto u = static_cast<unsigned char>(c);
        ok = ok && u >= 33 && u <= 126 && c != '=';
      }
    }
    if (!ok) return error(argument_error_code::bad_parameter, "Bad parameter syntax");
    if (auto e = each(p)) return e;
  }
}

std::uint64_t parse_size(std::string_view digits, bool& ok) {
  ok = !digits.empty() && digits.size() <= 20;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      ok = false;
      return 0;
    }
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      value = std::numeric_limits<std::uint64_t>::max();
    } else if (value != std::numeric_limits<std::uint64_t>::max()) {
      value = value * 10 + d;
    }
  }
  return value;
}

}  // namespace

argument_result<mail_arguments> parse_mail_arguments(std::string_view s) {
  if (!skip_keyword(s, "FROM:")) {
    return error(argument_error_code::syntax, "Syntax: MAIL FROM:<address> [parameters]");
  }
  auto path = read_path(s, true);
  if (auto* e = std::get_if<argument_error>(&path)) return std::move(*e);
  mail_arguments out;
  out.sender = std::move(std::get<std::optional<address>>(path));
  bool have_body = false;
  auto e = for_each_parameter(s, [&](const parameter& p) -> std::optional<argument_error> {
    if (iequals_ascii(p.keyword, "SIZE")) {
      // RFC 1870 5: size-value ::= 1*20DIGIT
      bool ok = false;
      const std::uint64_t size = p.value ? parse_size(*p.value, ok) : 0;
      if (!ok || out.size) return error(argument_error_code::bad_parameter, "Bad SIZE parameter");
      out.size = size;
      return std::nullopt;
    }
    if (iequals_ascii(p.keyword, "BODY")) {
      // RFC 6152 2: body-value ::= "7BIT" / "8BITMIME"
      if (have_body || !p.value) {
        return error(argument_error_code::bad_parameter, "Bad BODY parameter");
      }
      if (iequals_ascii(*p.value, "7BIT")) {
        out.body = body_type::seven_bit;
      } else if (iequals_ascii(*p.value, "8BITMIME")) {
        out.body = body_type::eight_bit_mime;
      } else {
        return error(argument_error_code::bad_parameter, "Unsupported BODY type");
      }
      have_body = true;
      return std::nullopt;
    }
    return error(argument_error_code::unknown_parameter,
                 "Unsupported parameter " + std::string(p.keyword));
  });
  if (e) return std::move(*e);
  return out;
}

argument_result<rcpt_arguments> parse_rcpt_arguments(std::string_view s) {
  if (!skip_keyword(s, "TO:")) {
    return error(argument_error_code::syntax, "Syntax: RCPT TO:<address>");
  }
  auto path = read_path(s, false);
  if (auto* e = std::get_if<argument_error>(&path)) return std::move(*e);
  rcpt_arguments out;
  out.recipient = std::move(*std::get<std::optional<address>>(path));
  auto e = for_each_parameter(s, [](const parameter& p) -> std::optional<argument_error> {
    return error(argument_error_code::unknown_parameter,
                 "Unsupported parameter " + std::string(p.keyword));
  });
  if (e) return std::move(*e);
  return out;
}

bool is_valid_client_name(std::string_view name) {
  return is_domain(name) || is_address_literal(name);
}

}  // namespace packmail::protocols::lmtp
