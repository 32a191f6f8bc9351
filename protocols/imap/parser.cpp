#include "packmail/protocols/imap/parser.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace packmail::protocols::imap {

namespace {

constexpr std::size_t k_tail = 32;                   // enough for "~{18446744073709551615+}"
constexpr std::uint64_t k_literal_minus_max = 4096;  // RFC 7888 5
constexpr std::size_t k_literal_reserve = 64 * 1024;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "imap command_parser: broken invariant: %s\n", what);
    std::abort();
  }
}

bool is_tag_char(char c) { return is_astring_char(c) && c != '+'; }

// Octets an atom may hold outside brackets: ATOM-CHAR plus the list
// wildcards (LIST patterns, "*" in sequence sets), "\" (flags) and "]"
// (astrings). "[" opens a bracketed part, handled by the caller.
bool is_atom_run_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  return c != '(' && c != ')' && c != '{' && c != '"' && c != '[';
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// A literal announcement ending a line: "{n}", "{n+}", "~{n}", "~{n+}".
struct trailing_literal {
  enum class kind { none, synchronizing, non_synchronizing, unreadable_non_synchronizing };
  kind what = kind::none;
  std::uint64_t size = 0;
};

bool parse_number64(std::string_view digits, std::uint64_t& out) {
  if (digits.empty() || digits.size() > 20) return false;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - d) / 10) return false;
    value = value * 10 + d;
  }
  out = value;
  return true;
}

trailing_literal find_trailing_literal(std::string_view line) {
  line = strip_cr(line);
  if (line.empty() || line.back() != '}') return {};
  line.remove_suffix(1);
  const bool non_sync = !line.empty() && line.back() == '+';
  if (non_sync) line.remove_suffix(1);
  const std::size_t open = line.find_last_of('{');
  const std::string_view digits = open == std::string_view::npos ? line : line.substr(open + 1);
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!all_digits) return {};
  std::uint64_t size = 0;
  if (open == std::string_view::npos || !parse_number64(digits, size)) {
    // Digits reaching past what we kept: we cannot know how much data follows.
    if (non_sync) return {trailing_literal::kind::unreadable_non_synchronizing, 0};
    return {};
  }
  if (non_sync) return {trailing_literal::kind::non_synchronizing, size};
  return {trailing_literal::kind::synchronizing, size};
}

// The tag at the start of a line (a, then b), when it looks like one and
// ends within the first `limit` octets, for errors reported before the line
// was parsed. The bound keeps the answer independent of how input is cut.
std::string leading_tag(std::string_view a, std::string_view b, std::size_t limit) {
  std::string tag;
  for (std::string_view part : {a, b}) {
    for (char c : part) {
      if (c == ' ') return tag;
      if (!is_tag_char(c) || tag.size() + 1 >= limit) return {};
      tag.push_back(c);
    }
  }
  return {};
}

void keep_tail(std::string& tail, std::string_view more) {
  if (more.size() >= k_tail) {
    tail.assign(more.substr(more.size() - k_tail));
    return;
  }
  tail.append(more);
  if (tail.size() > k_tail) tail.erase(0, tail.size() - k_tail);
}

}  // namespace

command_parser::command_parser(parser_limits limits) : limits_(limits) { reset_command(); }

void command_parser::reset_command() {
  command_ = command{};
  open_lists_.assign(1, &command_.args);
  position_ = position::start;
  literal_target_ = nullptr;
  literal_is_literal8_ = false;
  tokens_ = 0;
  command_bytes_ = 0;
  append_bytes_ = 0;
}

void command_parser::expect_done() {
  check(state_ == state::line && position_ == position::start && line_.empty(),
        "expect_done() outside a command boundary");
  mode_ = mode::idle_done;
}

void command_parser::expect_sasl_response() {
  check(state_ == state::line && position_ == position::start && line_.empty(),
        "expect_sasl_response() outside a command boundary");
  mode_ = mode::sasl;
}

void command_parser::reject_literal() {
  check(literal_sync_pending_ && state_ == state::literal,
        "reject_literal() without a synchronizing literal just announced");
  literal_sync_pending_ = false;
  remaining_ = 0;
  state_ = state::line;
  reset_command();
}

parse_error command_parser::make_error(parse_error_code code, std::string message) const {
  return parse_error{code, command_.tag, std::move(message), false};
}

parse_result command_parser::fail(std::size_t consumed, parse_error error,
                                  std::string_view rest_of_line) {
  // The client goes on sending what it announced: skip a non-synchronizing
  // literal at the end of the bad line (RFC 7888 4, choice 1) unless it is
  // too big to be worth reading, then close (choice 2). A synchronizing one
  // is never sent: the client gets our tagged BAD instead of "+".
  const trailing_literal t = find_trailing_literal(rest_of_line);
  reset_command();
  state_ = state::line;
  if (t.what == trailing_literal::kind::non_synchronizing && t.size <= limits_.max_append_literal) {
    state_ = state::discard_literal;
    remaining_ = t.size;
    tail_.clear();
  } else if (t.what == trailing_literal::kind::non_synchronizing ||
             t.what == trailing_literal::kind::unreadable_non_synchronizing) {
    error.close = true;
  }
  return {consumed, std::move(error)};
}

parse_result command_parser::feed(std::string_view in) {
  literal_sync_pending_ = false;
  std::size_t pos = 0;
  while (true) {
    switch (state_) {
      case state::literal: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
        const std::string_view chunk = in.substr(pos, take);
        // RFC 3501 9: literal = "{" number "}" CRLF *CHAR8, CHAR8 = %x01-ff;
        // only literal8 may carry NUL (RFC 3516).
        if (!literal_is_literal8_ && std::memchr(chunk.data(), '\0', chunk.size()) != nullptr) {
          parse_error error = make_error(
              parse_error_code::syntax, "NUL octet in literal (use literal8 ~{n} for binary data)");
          pos += take;
          remaining_ -= take;
          reset_command();
          state_ = state::discard_literal;
          return {pos, std::move(error)};
        }
        literal_target_->append(chunk);
        pos += take;
        remaining_ -= take;
        if (remaining_ > 0) return {pos, need_more{}};
        literal_target_ = nullptr;
        state_ = state::line;
        continue;
      }
      case state::discard_literal: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
        pos += take;
        remaining_ -= take;
        if (remaining_ > 0) return {pos, need_more{}};
        state_ = state::discard_line;
        tail_.clear();
        continue;
      }
      case state::discard_line: {
        const std::string_view rest = in.substr(pos);
        const std::size_t lf = rest.find('\n');
        if (lf == std::string_view::npos) {
          keep_tail(tail_, rest);
          return {in.size(), need_more{}};
        }
        keep_tail(tail_, rest.substr(0, lf));
        pos += lf + 1;
        const std::string tail = std::move(tail_);
        tail_.clear();
        parse_result r = fail(pos, parse_error{}, tail);
        if (std::get<parse_error>(r.output).close) {
          parse_error& error = std::get<parse_error>(r.output);
          error.code = parse_error_code::literal_too_large;
          error.message = "Unreadable literal in a rejected command";
          return r;
        }
        continue;
      }
      case state::line: {
        if (pos == in.size()) return {pos, need_more{}};
        const std::string_view rest = in.substr(pos);
        const std::size_t lf = rest.find('\n');
        const std::size_t take = lf == std::string_view::npos ? rest.size() : lf;
        if (line_.size() + take > limits_.max_line + 1) {  // +1: the CR
          parse_error error = make_error(parse_error_code::line_too_long, "Line too long");
          if (error.tag.empty() && position_ == position::start && mode_ == mode::command) {
            error.tag = leading_tag(line_, rest, limits_.max_line);
          }
          tail_.clear();
          keep_tail(tail_, line_);
          keep_tail(tail_, rest.substr(0, take));
          line_.clear();
          reset_command();
          mode_ = mode::command;
          state_ = state::discard_line;
          // Stop before the LF: the discard_line state sees the end of line
          // and skips a literal it may announce.
          return {pos + take, std::move(error)};
        }
        line_.append(rest.substr(0, take));
        if (lf == std::string_view::npos) return {in.size(), need_more{}};
        pos += lf + 1;
        const std::string line = std::move(line_);
        line_.clear();
        return on_line(pos, strip_cr(line));
      }
    }
  }
}

parse_result command_parser::on_line(std::size_t consumed, std::string_view line) {
  if (mode_ == mode::idle_done) {
    mode_ = mode::command;
    if (iequals_ascii(line, "DONE")) return {consumed, idle_done{}};
    return {consumed, parse_error{parse_error_code::expected_done, {}, "Expected DONE", false}};
  }
  if (mode_ == mode::sasl) {
    mode_ = mode::command;
    return {consumed, sasl_response{std::string(line), line == "*"}};
  }
  return on_command_line(consumed, line);
}

parse_result command_parser::on_command_line(std::size_t consumed, std::string_view line) {
  if (line.size() > limits_.max_line) {
    parse_error error = make_error(parse_error_code::line_too_long, "Line too long");
    if (error.tag.empty()) error.tag = leading_tag(line, {}, limits_.max_line);
    return fail(consumed, std::move(error), line);
  }
  command_bytes_ += line.size() + 2;
  parse_error error;
  if (command_bytes_ > limits_.max_command) {
    error = make_error(parse_error_code::command_too_large, "Command too large");
    return fail(consumed, std::move(error), line);
  }
  std::size_t i = 0;
  if (position_ == position::start) {
    if (line.empty()) {
      return fail(consumed,
                  parse_error{parse_error_code::empty_line, {}, "Empty command line", false}, line);
    }
    if (!parse_header(line, i, error)) return fail(consumed, std::move(error), line);
  }
  literal_announced literal;
  bool has_literal = false;
  if (!parse_arguments(line, i, error, literal, has_literal)) {
    return fail(consumed, std::move(error), line);
  }
  if (has_literal) {
    literal_sync_pending_ = literal.synchronizing;
    return {consumed, literal};
  }
  command done = std::move(command_);
  reset_command();
  return {consumed, std::move(done)};
}

bool command_parser::parse_header(std::string_view line, std::size_t& i, parse_error& error) {
  // RFC 3501 9: command = tag SP (command-any / command-auth / ...) CRLF
  while (i < line.size() && is_tag_char(line[i])) ++i;
  if (i == 0) {
    error = make_error(parse_error_code::syntax, line[0] == ' ' ? "Missing tag" : "Invalid tag");
    return false;
  }
  if (i < line.size() && line[i] != ' ') {
    error = make_error(parse_error_code::syntax, "Invalid tag");
    return false;
  }
  command_.tag.assign(line.substr(0, i));
  auto read_name = [&](std::string& out) {
    if (i >= line.size() || line[i] != ' ') return false;
    const std::size_t start = ++i;
    while (i < line.size() && is_astring_char(line[i]) && line[i] != ']') ++i;
    if (i == start || (i < line.size() && line[i] != ' ')) return false;
    out = to_upper_ascii(line.substr(start, i - start));
    return true;
  };
  if (!read_name(command_.name)) {
    error = make_error(parse_error_code::syntax, "Missing or invalid command name");
    return false;
  }
  if (command_.name == "UID") {
    command_.uid = true;
    if (!read_name(command_.name)) {
      error = make_error(parse_error_code::syntax, "Missing or invalid command after UID");
      return false;
    }
  }
  position_ = position::after_token;
  return true;
}

bool command_parser::add_token(token t, parse_error& error) {
  if (++tokens_ > limits_.max_tokens) {
    error = make_error(parse_error_code::too_many_tokens, "Too many arguments");
    return false;
  }
  open_lists_.back()->push_back(std::move(t));
  return true;
}

bool command_parser::parse_arguments(std::string_view line, std::size_t& i, parse_error& error,
                                     literal_announced& literal, bool& has_literal) {
  auto syntax = [&](const char* message) {
    error = make_error(parse_error_code::syntax, message);
    return false;
  };
  while (i < line.size()) {
    const char c = line[i];
    if (position_ == position::after_token) {
      if (c == ' ') {
        position_ = position::expect_token;
        ++i;
        continue;
      }
      if (c == ')' && open_lists_.size() > 1) {
        open_lists_.pop_back();
        ++i;
        continue;
      }
      return syntax("Expected space or end of list after argument");
    }
    if (c == ')') {
      if (position_ != position::after_open) return syntax("Unexpected ')'");
      open_lists_.pop_back();
      position_ = position::after_token;
      ++i;
      continue;
    }
    if (c == ' ') return syntax("Unexpected space");
    // A token starts here.
    if (c == '(') {
      if (open_lists_.size() > limits_.max_depth) {
        error = make_error(parse_error_code::too_deep, "Lists nested too deeply");
        return false;
      }
      if (!add_token(token{token_kind::list, {}, 0, {}}, error)) return false;
      open_lists_.push_back(&open_lists_.back()->back().children);
      position_ = position::after_open;
      ++i;
      continue;
    }
    if (c == '"') {
      token t{token_kind::quoted, {}, 0, {}};
      if (!read_quoted(line, i, t.text, error)) return false;
      if (!add_token(std::move(t), error)) return false;
      position_ = position::after_token;
      continue;
    }
    if (c == '{' || (c == '~' && i + 1 < line.size() && line[i + 1] == '{')) {
      // RFC 9051 9: literal = "{" number64 ["+"] "}" CRLF *CHAR8
      //             literal8 = "~{" number64 ["+"] "}" CRLF *OCTET
      const bool is_literal8 = c == '~';
      std::size_t j = i + (is_literal8 ? 2 : 1);
      const std::size_t digits_start = j;
      while (j < line.size() && line[j] >= '0' && line[j] <= '9') ++j;
      const std::string_view digits = line.substr(digits_start, j - digits_start);
      bool non_sync = false;
      if (j < line.size() && line[j] == '+') {
        non_sync = true;
        ++j;
      }
      if (j >= line.size() || line[j] != '}' || digits.empty()) {
        return syntax("Invalid literal announcement");
      }
      if (j + 1 != line.size()) return syntax("Literal announcement must end the line");
      std::uint64_t size = 0;
      if (!parse_number64(digits, size)) return syntax("Invalid literal size");
      // APPEND's message data: every literal after the mailbox name (also
      // MULTIAPPEND's further messages and CATENATE parts).
      const bool append_data = command_.name == "APPEND" && !command_.args.empty();
      const char* too_large = nullptr;
      if (non_sync && limits_.non_sync == non_sync_literals::minus && size > k_literal_minus_max) {
        too_large = "Non-synchronizing literal over 4096 octets (LITERAL-)";
      } else if (append_data && size > limits_.max_append_literal - append_bytes_) {
        too_large = "Message too large";
      } else if (!append_data && size > limits_.max_literal) {
        too_large = "Literal too large";
      }
      if (too_large != nullptr) {
        error = make_error(parse_error_code::literal_too_large, too_large);
        return false;
      }
      if (!append_data && size > limits_.max_command - command_bytes_) {
        error = make_error(parse_error_code::command_too_large, "Command too large");
        return false;
      }
      if (!add_token(token{is_literal8 ? token_kind::literal8 : token_kind::literal, {}, 0, {}},
                     error)) {
        return false;
      }
      if (append_data) {
        append_bytes_ += size;
      } else {
        command_bytes_ += static_cast<std::size_t>(size);
      }
      literal_target_ = &open_lists_.back()->back().text;
      literal_target_->reserve(
          static_cast<std::size_t>(std::min<std::uint64_t>(size, k_literal_reserve)));
      literal_is_literal8_ = is_literal8;
      remaining_ = size;
      state_ = state::literal;
      position_ = position::after_token;
      literal = literal_announced{size, !non_sync, is_literal8, append_data};
      has_literal = true;
      i = line.size();
      return true;
    }
    token t;
    if (!read_atom(line, i, t, error)) return false;
    if (!add_token(std::move(t), error)) return false;
    position_ = position::after_token;
  }
  if (position_ == position::expect_token) return syntax("Missing argument after space");
  if (open_lists_.size() > 1) return syntax("Unterminated list");
  return true;
}

bool command_parser::read_quoted(std::string_view line, std::size_t& i, std::string& out,
                                 parse_error& error) {
  // RFC 3501 9: quoted = DQUOTE *QUOTED-CHAR DQUOTE
  //   QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
  // TEXT-CHAR excludes NUL, CR, LF and (before UTF8=ACCEPT) 8-bit octets.
  auto syntax = [&](const char* message) {
    error = make_error(parse_error_code::syntax, message);
    return false;
  };
  ++i;
  while (i < line.size()) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == '"') {
      ++i;
      return true;
    }
    if (c == '\\') {
      if (i + 1 >= line.size()) break;
      const char next = line[i + 1];
      if (next != '"' && next != '\\') return syntax("Invalid escape in quoted string");
      out.push_back(next);
      i += 2;
      continue;
    }
    if (c == 0 || c == '\r') return syntax("Control character in quoted string");
    if (c >= 0x80 && !limits_.utf8_quoted) {
      return syntax("8-bit octet in quoted string (send a literal instead)");
    }
    out.push_back(static_cast<char>(c));
    ++i;
  }
  return syntax("Unterminated quoted string");
}

bool command_parser::read_atom(std::string_view line, std::size_t& i, token& out,
                               parse_error& error) {
  auto syntax = [&](const char* message) {
    error = make_error(parse_error_code::syntax, message);
    return false;
  };
  const std::size_t start = i;
  bool bracketed = false;
  while (i < line.size()) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == '[') {
      // A bracketed part (FETCH section-spec) may hold spaces, parenthesized
      // header lists and quoted header names: keep it whole.
      bracketed = true;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        const auto b = static_cast<unsigned char>(line[i]);
        if (b == ']') {
          closed = true;
          ++i;
          break;
        }
        if (b == '"') {
          ++i;
          while (i < line.size() && line[i] != '"') {
            if (line[i] == '\\') ++i;
            if (i < line.size()) {
              const auto q = static_cast<unsigned char>(line[i]);
              if (q < 0x20 || q >= 0x7f) return syntax("Invalid character in section");
            }
            ++i;
          }
          if (i >= line.size()) return syntax("Unterminated quoted string in section");
          ++i;
          continue;
        }
        if (b == '[' || b == '{' || b < 0x20 || b >= 0x7f) {
          return syntax("Invalid character in section");
        }
        ++i;
      }
      if (!closed) return syntax("Missing ']'");
      continue;
    }
    if (!is_atom_run_char(c)) break;
    ++i;
  }
  if (i == start || (i < line.size() && line[i] != ' ' && line[i] != ')')) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == 0) return syntax("NUL octet in command");
    if (c >= 0x80) return syntax("8-bit octet in command (send a literal instead)");
    return syntax("Invalid character in atom");
  }
  out.text.assign(line.substr(start, i - start));
  std::uint64_t value = 0;
  if (bracketed) {
    out.kind = token_kind::section;
  } else if (iequals_ascii(out.text, "NIL")) {
    out.kind = token_kind::nil;
  } else if (parse_number64(out.text, value)) {
    out.kind = token_kind::number;
    out.number = value;
  } else {
    out.kind = token_kind::atom;
  }
  return true;
}

}  // namespace packmail::protocols::imap
