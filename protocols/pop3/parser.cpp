#include "packmail/protocols/pop3/parser.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "packmail/protocols/ascii.h"

namespace packmail::protocols::pop3 {
namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "pop3 command_parser: broken invariant: %s\n", what);
    std::abort();
  }
}

}  // namespace

command_parser::command_parser(std::size_t max_line) : max_line_(max_line) {}

void command_parser::expect_sasl_response() {
  check(state_ == state::line && line_.empty(), "expect_sasl_response() in the middle of a line");
  mode_ = mode::sasl;
}

parse_result command_parser::feed(std::string_view in) {
  std::size_t pos = 0;
  while (true) {
    const std::string_view rest = in.substr(pos);
    const std::size_t lf = rest.find('\n');
    const std::size_t take = lf == std::string_view::npos ? rest.size() : lf;
    if (state_ == state::discard_line) {
      if (lf == std::string_view::npos) return {in.size(), need_more{}};
      pos += lf + 1;
      state_ = state::line;
      continue;
    }
    if (pos == in.size()) return {pos, need_more{}};
    // +1: the CR before the LF is not part of the line.
    if (line_.size() + take > max_line_ + 1) {
      line_.clear();
      mode_ = mode::command;
      state_ = state::discard_line;
      // Stop before the LF: the discard state skips through it.
      return {pos + take, parse_error{parse_error_code::line_too_long, "Line too long"}};
    }
    line_.append(rest.substr(0, take));
    if (lf == std::string_view::npos) return {in.size(), need_more{}};
    pos += lf + 1;
    std::string line = std::move(line_);
    line_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return on_line(pos, line);
  }
}

parse_result command_parser::on_line(std::size_t consumed, std::string_view line) {
  if (line.size() > max_line_) {
    // max_line + 1 octets with no CR before the LF.
    mode_ = mode::command;
    return {consumed, parse_error{parse_error_code::line_too_long, "Line too long"}};
  }
  if (mode_ == mode::sasl) {
    mode_ = mode::command;
    return {consumed, sasl_response{std::string(line), line == "*"}};
  }
  command cmd;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    const std::size_t end = std::min(line.find(' ', i), line.size());
    cmd.args.emplace_back(line.substr(i, end - i));
    if (cmd.args.size() == 1 && end < line.size()) cmd.text.assign(line.substr(end + 1));
    i = end;
  }
  if (cmd.args.empty()) {
    return {consumed, parse_error{parse_error_code::empty_line, "Empty command line"}};
  }
  cmd.name = to_upper_ascii(cmd.args.front());
  cmd.args.erase(cmd.args.begin());
  return {consumed, std::move(cmd)};
}

}  // namespace packmail::protocols::pop3
