// Drives lmtp::session in-process over a memory store with transcripts:
//
//   run(c, R"(
//     C: LHLO mta.example
//     S: 250-{*}
//     ...
//   )");
//
// "C: " lines are client bytes (CRLF added; "C:" alone sends an empty line);
// the "S: " lines after them are the exact server lines expected in answer to
// all the client lines before them; "{*}" in an S: line matches any run of
// characters.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/protocols/lmtp/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::lmtp::testing {

inline std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// LF line ends become CRLF.
inline std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// A store and a resolver that knows alice and bob (any domain, any case);
// "alice+work" resolves to alice with folder "work". The store's users are
// created by deliveries, not here.
struct test_server {
  std::unique_ptr<storage::mail_store> store = storage::open_memory_store();
  session_config config;
  std::vector<std::string> users = {"alice", "bob"};
  // Local parts whose lookup fails temporarily.
  std::vector<std::string> failing = {"flaky"};

  test_server() : test_server(storage::open_memory_store()) {}
  explicit test_server(std::unique_ptr<storage::mail_store> s) : store(std::move(s)) {
    config.store = store.get();
    config.host_name = "mx.test";
    config.resolve = [this](std::string_view local_part, std::string_view) -> recipient_lookup {
      const std::string local = lower_ascii(local_part);
      for (const auto& f : failing) {
        if (local == f) return lookup_failure{};
      }
      const std::size_t plus = local.find('+');
      const std::string user = local.substr(0, plus);
      for (const auto& u : users) {
        if (u != user) continue;
        recipient r{user, std::nullopt};
        if (plus != std::string::npos) r.folder = std::string(local_part.substr(plus + 1));
        return r;
      }
      return unknown_recipient{};
    };
  }

  // Messages of a user's mailbox (the user must exist).
  std::vector<storage::message_info> messages(std::string_view user, std::string_view box) {
    auto id = store->find_user(user);
    REQUIRE(id.ok());
    auto info = store->get_mailbox(*id, box);
    REQUIRE(info.ok());
    return store->list_messages(info->id).value();
  }
  std::string read(std::string_view user, std::string_view box, storage::imap_uid uid) {
    auto id = store->find_user(user).value();
    return store->read_message(store->get_mailbox(id, box)->id, uid).value();
  }
  std::uint64_t bodies() { return store->stats().value().bodies; }
  std::uint64_t stats_messages() { return store->stats().value().messages; }
};

// One connection.
class client {
 public:
  explicit client(test_server& server, connection_info info = {"192.0.2.10", 40000, false, false})
      : session_(server.config, std::move(info), [] {}) {
    greeting_ = session_.greeting().bytes;
  }

  const std::string& greeting() const { return greeting_; }
  lmtp::session& session() { return session_; }
  bool closed() const { return closed_; }

  // Feeds bytes whole (or one byte at a time) and returns all the output.
  std::string send(std::string_view bytes, bool byte_by_byte = false) {
    std::string out;
    auto take = [&](protocols::output o) {
      out += o.bytes;
      if (o.close) closed_ = true;
      CHECK_FALSE(o.start_tls);
    };
    if (byte_by_byte) {
      for (char c : bytes) take(session_.on_input(std::string_view(&c, 1)));
    } else {
      take(session_.on_input(bytes));
    }
    return out;
  }

 private:
  lmtp::session session_;
  std::string greeting_;
  bool closed_ = false;
};

inline bool glob_match(std::string_view pattern, std::string_view text) {
  constexpr std::string_view k_any = "{*}";
  std::size_t star = pattern.find(k_any);
  if (star == std::string_view::npos) return pattern == text;
  if (text.substr(0, star) != pattern.substr(0, star)) return false;
  pattern.remove_prefix(star + k_any.size());
  text.remove_prefix(star);
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (glob_match(pattern, text.substr(i))) return true;
  }
  return false;
}

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

// Runs a C:/S: transcript (leading blanks of each line are ignored).
inline void run(client& c, std::string_view script, bool byte_by_byte = false) {
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
    } else if (!l.empty()) {
      FAIL("bad script line: " << line);
    }
  }
  flush();
}

// The LHLO exchange.
inline void lhlo(client& c) {
  run(c, R"(
    C: LHLO mta.example
    S: 250-mx.test
    S: 250-PIPELINING
    S: 250-8BITMIME
    S: 250-ENHANCEDSTATUSCODES
    S: 250 SIZE {*}
  )");
}

}  // namespace packmail::protocols::lmtp::testing
