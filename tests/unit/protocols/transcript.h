// The C:/S: transcript runner the session tests of every protocol share
// (IMAP, POP3, LMTP), and feeding a session as the server does: each
// protocol's session_script.h brings its own test_server and client and
// takes these with a using-directive.
//
//   run(c, R"(
//     C: a1 LOGIN alice secret
//     S: a1 OK [CAPABILITY {*}] Logged in
//   )");
//
// "C: " lines are client bytes (CRLF added; "C:" alone sends an empty line);
// the "S: " lines after them are the exact server lines expected in answer to
// all the client lines before them ("S:" alone expects an empty line); "{*}"
// in an S: line matches any run of characters. Leading blanks of each script
// line are ignored; any other line fails the test.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/protocols/ascii.h"
#include "packmail/protocols/session.h"

namespace packmail::protocols::testing {

// A connection the runner drives: send() feeds the bytes to the session,
// whole or one byte at a time, and returns everything it answered.
template <class Client>
concept transcript_client = requires(Client& c, std::string_view bytes, bool byte_by_byte) {
  { c.send(bytes, byte_by_byte) } -> std::convertible_to<std::string>;
};

// ASCII letters lower-cased, other bytes kept (protocols/ascii.h).
inline std::string lower_ascii(std::string_view text) { return to_lower_ascii(text); }

// LF line ends become CRLF (test messages are written with LF).
inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// Whether `text` matches `pattern`, in which each "{*}" stands for any run
// of characters (none included).
inline bool glob_match(std::string_view pattern, std::string_view text) {
  constexpr std::string_view k_any = "{*}";
  std::size_t star = pattern.find(k_any);
  if (star == std::string_view::npos) return pattern == text;
  if (text.substr(0, star) != pattern.substr(0, star)) return false;
  pattern.remove_prefix(star + k_any.size());
  text.remove_prefix(star);
  // Try every split point: patterns here are short.
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (glob_match(pattern, text.substr(i))) return true;
  }
  return false;
}

// The lines of `text` without their CRLF; a last line without CRLF counts.
inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    std::size_t end = text.find("\r\n");
    if (end == std::string_view::npos) {
      lines.emplace_back(text);
      break;
    }
    lines.emplace_back(text.substr(0, end));
    text.remove_prefix(end + 2);
  }
  return lines;
}

// Checks that `actual` (server bytes) is exactly the expected lines.
inline void check_lines(const std::string& actual, const std::vector<std::string>& expected) {
  const auto lines = split_lines(actual);
  std::string want;
  for (const auto& e : expected) want += e + "\r\n";
  INFO("expected:\n" << want << "actual:\n" << actual);
  bool same = lines.size() == expected.size() && (actual.empty() || actual.ends_with("\r\n"));
  for (std::size_t i = 0; same && i < lines.size(); ++i) same = glob_match(expected[i], lines[i]);
  CHECK(same);
}

// What a test client saw of a session's outputs besides their bytes.
struct output_record {
  bool closed = false;     // an output asked to close the connection
  bool start_tls = false;  // an output asked for the TLS handshake
  // The output::delay of every call so far, in order.
  std::vector<std::chrono::milliseconds> delays;
  int more_calls = 0;  // calls made because an output said `more`
};

// Feeds `bytes` to `s` whole (or one byte at a time) and returns all it
// answered, recording the rest of each output. As the server does: while the
// session holds pipelined input (output::more), calls it again with no bytes.
inline std::string feed_session(session& s, std::string_view bytes, bool byte_by_byte,
                                output_record& record) {
  std::string out;
  auto take = [&](output o) {
    for (;;) {
      out += o.bytes;
      if (o.close) record.closed = true;
      if (o.start_tls) record.start_tls = true;
      record.delays.push_back(o.delay);
      if (!o.more) break;
      ++record.more_calls;
      o = s.on_input({});
    }
  };
  if (byte_by_byte) {
    for (char c : bytes) take(s.on_input(std::string_view(&c, 1)));
  } else {
    take(s.on_input(bytes));
  }
  return out;
}

// Runs a C:/S: transcript on `c`: the client lines of each step are sent
// together (whole, or one byte at a time) and the answer checked against
// the step's S: lines.
template <transcript_client Client>
void run(Client& c, std::string_view script, bool byte_by_byte = false) {
  std::string input;
  std::vector<std::string> expected;
  bool have_step = false;
  auto flush = [&] {
    if (!have_step) return;
    check_lines(c.send(input, byte_by_byte), expected);
    input.clear();
    expected.clear();
    have_step = false;
  };
  std::istringstream lines{std::string(script)};
  std::string line;
  while (std::getline(lines, line)) {
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.starts_with("C: ")) {
      if (!expected.empty()) flush();
      input += std::string(l.substr(3)) + "\r\n";
      have_step = true;
    } else if (l == "C:") {
      if (!expected.empty()) flush();
      input += "\r\n";
      have_step = true;
    } else if (l.starts_with("S: ")) {
      expected.emplace_back(l.substr(3));
      have_step = true;
    } else if (l == "S:") {
      expected.emplace_back();
      have_step = true;
    } else if (!l.empty()) {
      FAIL("bad script line: " << line);
    }
  }
  flush();
}

}  // namespace packmail::protocols::testing
