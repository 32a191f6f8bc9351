#include "packmail/protocols/lmtp/parser.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "packmail/protocols/ascii.h"

namespace packmail::protocols::lmtp {

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "lmtp command_parser: broken invariant: %s\n", what);
    std::abort();
  }
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

command_parser::command_parser(parser_limits limits) : limits_(limits) {}

void command_parser::expect_data() {
  check(state_ == state::line && line_.empty(), "expect_data() outside a command boundary");
  state_ = state::data;
  position_ = data_position::line_start;
  message_.clear();
  message_size_ = 0;
  too_large_ = false;
}

parse_result command_parser::feed(std::string_view in) {
  std::size_t pos = 0;
  while (true) {
    switch (state_) {
      case state::data: {
        parse_result r = feed_data(in.substr(pos));
        r.consumed += pos;
        return r;
      }
      case state::discard_line: {
        const std::size_t nl = in.find('\n', pos);
        if (nl == std::string_view::npos) return {in.size(), need_more{}};
        pos = nl + 1;
        state_ = state::line;
        continue;
      }
      case state::line: {
        // A line may hold max_line octets plus the CR of its CRLF; one more
        // octet proves it too long, so no more is ever kept.
        const std::size_t keep = limits_.max_line + 2;
        const std::size_t nl = in.find('\n', pos);
        const std::size_t end = nl == std::string_view::npos ? in.size() : nl;
        const std::size_t room = keep - line_.size();
        if (end - pos >= room) {
          line_.clear();
          if (nl == std::string_view::npos) {
            state_ = state::discard_line;
            return {pos + room, parse_error{parse_error_code::line_too_long, "Line too long"}};
          }
          return {nl + 1, parse_error{parse_error_code::line_too_long, "Line too long"}};
        }
        line_.append(in.substr(pos, end - pos));
        if (nl == std::string_view::npos) return {in.size(), need_more{}};
        parse_result r = on_line(nl + 1, line_);
        line_.clear();
        return r;
      }
    }
  }
}

parse_result command_parser::on_line(std::size_t consumed, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > limits_.max_line) {
    return {consumed, parse_error{parse_error_code::line_too_long, "Line too long"}};
  }
  if (line.find('\0') != std::string_view::npos) {
    return {consumed, parse_error{parse_error_code::syntax, "NUL octet in command"}};
  }
  if (line.find('\r') != std::string_view::npos) {
    return {consumed, parse_error{parse_error_code::syntax, "Bare CR in command"}};
  }
  while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
  if (line.empty()) return {consumed, parse_error{parse_error_code::syntax, "Empty command"}};

  command cmd;
  const std::size_t space = line.find(' ');
  const std::string_view verb = line.substr(0, space);
  if (verb.empty()) return {consumed, parse_error{parse_error_code::syntax, "Syntax error"}};
  cmd.name = to_upper_ascii(verb);
  if (space != std::string_view::npos) {
    std::string_view rest = line.substr(space + 1);
    while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
    cmd.arguments.assign(rest);
  }
  return {consumed, std::move(cmd)};
}

void command_parser::add_data(std::string_view bytes) {
  message_size_ += bytes.size();
  if (too_large_) return;
  if (message_size_ > limits_.max_message_size) {
    too_large_ = true;
    std::string().swap(message_);  // give the memory back now
    return;
  }
  message_.append(bytes);
}

parse_result command_parser::end_data(std::size_t consumed) {
  message_data m;
  m.text = std::move(message_);
  m.size = message_size_;
  m.too_large = too_large_;
  message_.clear();
  message_size_ = 0;
  too_large_ = false;
  state_ = state::line;
  return {consumed, std::move(m)};
}

// RFC 5321 4.5.2: "When a line of mail text is received by the SMTP server,
// it checks the line. If the line is composed of a single period, it is
// treated as the end of mail indicator. If the first character is a period
// and there are other characters on the line, the first character is
// deleted." A bare LF ends a line here too (stored as CRLF).
parse_result command_parser::feed_data(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    switch (position_) {
      case data_position::line_start:
        if (c == '.') {
          position_ = data_position::dot;
          ++i;
        } else {
          position_ = data_position::middle;
        }
        break;
      case data_position::dot:
        if (c == '\n') return end_data(i + 1);
        if (c == '\r') {
          position_ = data_position::dot_cr;
          ++i;
        } else {
          position_ = data_position::middle;  // the stuffed '.' is dropped
        }
        break;
      case data_position::dot_cr:
        if (c == '\n') return end_data(i + 1);
        // ".\r" then more: the line is "\r..." once unstuffed.
        add_data("\r");
        position_ = data_position::middle;
        break;
      case data_position::middle: {
        std::size_t j = i;
        while (j < in.size() && in[j] != '\r' && in[j] != '\n') ++j;
        add_data(in.substr(i, j - i));
        i = j;
        if (i == in.size()) break;
        if (in[i] == '\n') {
          add_data("\r\n");
          position_ = data_position::line_start;
        } else {
          position_ = data_position::middle_cr;
        }
        ++i;
        break;
      }
      case data_position::middle_cr:
        if (c == '\n') {
          add_data("\r\n");
          position_ = data_position::line_start;
          ++i;
        } else {
          add_data("\r");  // a bare CR stays as it is
          position_ = data_position::middle;
        }
        break;
    }
  }
  return {in.size(), need_more{}};
}

}  // namespace packmail::protocols::lmtp
