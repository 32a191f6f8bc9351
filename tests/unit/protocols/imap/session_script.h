// Drives imap::session in-process over a memory store with transcripts:
//
//   run(c, R"(
//     C: a1 LOGIN alice secret
//     S: a1 OK [CAPABILITY {*}] Logged in
//   )");
//
// "C: " lines are client bytes (CRLF added); the "S: " lines after them are
// the exact server lines expected in answer to all the client lines before
// them; "{*}" in an S: line matches any run of characters.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/protocols/imap/session.h"
#include "packmail/storage/store.h"

namespace packmail::protocols::imap::testing {

inline std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A store and the configuration every test session shares. Any user's
// password is "secret".
struct test_server {
  std::unique_ptr<storage::mail_store> store = storage::open_memory_store();
  session_config config;

  test_server() {
    config.store = store.get();
    config.recent = std::make_shared<recent_registry>();
    config.authenticate = [](std::string_view user,
                             std::string_view password) -> std::optional<std::string> {
      if (password != "secret" || user.empty()) return std::nullopt;
      return lower_ascii(user);
    };
  }

  storage::user_id user(std::string_view name) { return store->ensure_user(name).value(); }
  storage::mailbox_info mailbox(std::string_view user_name, std::string_view name) {
    return store->get_mailbox(user(user_name), name).value();
  }
  // Delivers `message` (LF line ends become CRLF) and returns its UID.
  storage::imap_uid deliver(std::string_view user_name, std::string_view box,
                            std::string_view message, std::uint8_t flags = 0,
                            std::int64_t internal_date = 0) {
    std::string crlf;
    for (char c : message) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    storage::append_request request;
    request.message = crlf;
    request.internal_date = internal_date;
    storage::append_target target;
    target.mailbox = mailbox(user_name, box).id;
    target.flags = flags;
    request.targets.push_back(std::move(target));
    return store->append(request).value().front().uid;
  }
};

// One connection.
class client {
 public:
  explicit client(test_server& server, connection_info info = {"127.0.0.1", 40000, false, true})
      : wakes_(std::make_shared<std::atomic<int>>(0)),
        session_(server.config, std::move(info), [w = wakes_] { ++*w; }) {
    greeting_ = session_.greeting().bytes;
  }

  const std::string& greeting() const { return greeting_; }
  imap::session& session() { return session_; }
  int wakes() const { return wakes_->load(); }
  bool closed() const { return closed_; }

  // Feeds bytes whole (or one byte at a time) and returns all the output.
  std::string send(std::string_view bytes, bool byte_by_byte = false) {
    std::string out;
    // As the server does: while the session holds pipelined input, call it
    // again with no bytes.
    auto take = [&](protocols::output o) {
      for (;;) {
        out += o.bytes;
        if (o.close) closed_ = true;
        if (o.start_tls) start_tls_ = true;
        delays_.push_back(o.delay);
        if (!o.more) break;
        ++more_calls_;
        o = session_.on_input({});
      }
    };
    if (byte_by_byte) {
      for (char c : bytes) take(session_.on_input(std::string_view(&c, 1)));
    } else {
      take(session_.on_input(bytes));
    }
    return out;
  }
  bool start_tls_requested() const { return start_tls_; }
  // The output::delay of every call so far, in order.
  const std::vector<std::chrono::milliseconds>& delays() const { return delays_; }
  // How often the session asked to be called again (output::more).
  int more_calls() const { return more_calls_; }

 private:
  std::vector<std::chrono::milliseconds> delays_;
  int more_calls_ = 0;
  std::shared_ptr<std::atomic<int>> wakes_;
  imap::session session_;
  std::string greeting_;
  bool closed_ = false;
  bool start_tls_ = false;
};

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
    } else if (l == "S:") {
      expected.emplace_back();
      have_step = true;
    } else if (!l.empty()) {
      FAIL("bad script line: " << line);
    }
  }
  flush();
}

// Logs in as `user` (any case) and checks the reply.
inline void login(client& c, std::string_view user = "alice") {
  run(c, "C: l1 LOGIN " + std::string(user) + " secret\nS: l1 OK [CAPABILITY {*}] Logged in\n");
}

// Delivers three \Seen messages to alice's INBOX, logs in and selects it.
inline void select_three(test_server& server, client& c) {
  for (int i = 0; i < 3; ++i)
    server.deliver("alice", "INBOX", "Subject: m\n\nx\n", storage::flag_seen);
  login(c);
  run(c, R"(
    C: s1 SELECT INBOX
    S: * FLAGS {*}
    S: * OK [PERMANENTFLAGS {*}] Flags permitted
    S: * 3 EXISTS
    S: * 0 RECENT
    S: * OK [UIDVALIDITY {*}] UIDs valid
    S: * OK [UIDNEXT 4] Predicted next UID
    S: s1 OK [READ-WRITE] SELECT completed
  )");
}

}  // namespace packmail::protocols::imap::testing
