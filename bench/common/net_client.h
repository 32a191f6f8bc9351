// Client side of the protocol benchmarks: a buffered line connection over Asio
// C++20 coroutines and thin IMAP, POP3 and LMTP exchanges on top of it.
//
// Everything here runs on ONE io_context thread (the load generator must not
// be the bottleneck, and a single thread keeps its CPU share easy to read):
// no class is thread-safe, and every object must be used from the thread that
// runs its io_context.
//
// Errors are exceptions, thrown out of the coroutines: protocol_error for a
// reply the exchange did not expect (with the reply in the message),
// service_unavailable for a greeting that refuses service, and
// boost::system::system_error for socket errors and expired deadlines.
//
// GCC 12 miscompiles some coroutine code (server/net/server.cpp): never a
// lambda written inside a co_await expression, never co_await inside &&, ||
// or ?:. The code here and its callers follow that.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace packmail::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A reply the exchange did not expect (NO/BAD, -ERR, a 4xx/5xx code, garbage).
class protocol_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The greeting refused service ("* BYE", "-ERR", "421"), as a server over its
// connection limit answers: the benchmarks fail the run on it. what() names
// the protocol and quotes the greeting.
class service_unavailable : public protocol_error {
 public:
  using protocol_error::protocol_error;
};

class line_connection;

// Closes connections whose current operation has outlived its deadline. One
// per io_context; run() must be running (e.g. `co_await (work() ||
// watchdog.run())`) for deadlines to be enforced. Cheaper than a timer per
// operation: each operation only stores its deadline, and run() scans the
// registered connections every 100 ms.
class deadline_watchdog {
 public:
  explicit deadline_watchdog(asio::any_io_executor executor);
  // Returns only when stop() is called (a stop() before run() starts is
  // forgotten: run() may be started again after it returned).
  asio::awaitable<void> run();
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  friend class line_connection;
  asio::steady_timer timer_;
  bool stopped_ = false;
  std::unordered_set<line_connection*> connections_;
};

// One TCP connection, read as CRLF-terminated lines and counted bytes.
class line_connection {
 public:
  using clock = std::chrono::steady_clock;

  // The watchdog must outlive the connection. timeout: how long each read,
  // write or connect may take. Default: 30 s.
  line_connection(asio::any_io_executor executor, deadline_watchdog& watchdog,
                  clock::duration timeout = std::chrono::seconds(30));
  ~line_connection();
  line_connection(const line_connection&) = delete;
  line_connection& operator=(const line_connection&) = delete;

  // Connects from `source` (any port; the kernel picks it at connect time, so
  // many connections can share a source address) or from the default address.
  asio::awaitable<void> connect(const tcp::endpoint& server,
                                std::optional<asio::ip::address> source = std::nullopt);
  // The next line without its CRLF (a bare LF also ends a line). The view is
  // valid until the next read. Throws on EOF, error, deadline, or a line over
  // 1 MiB.
  asio::awaitable<std::string_view> read_line();
  // Exactly n bytes; valid until the next read.
  asio::awaitable<std::string_view> read_exact(std::size_t n);
  asio::awaitable<void> write(std::string_view bytes);
  // Closes the socket (idempotent); a pending operation fails.
  void close();
  bool is_open() const { return socket_.is_open(); }

 private:
  friend class deadline_watchdog;
  asio::awaitable<void> fill();
  void arm() { deadline_ = clock::now() + timeout_; }
  void disarm() { deadline_ = clock::time_point::max(); }

  tcp::socket socket_;
  deadline_watchdog& watchdog_;
  clock::duration timeout_;
  clock::time_point deadline_ = clock::time_point::max();
  std::string buffer_;
  std::size_t start_ = 0;  // unread data is buffer_[start_, buffer_.size())
};

// --- IMAP (RFC 3501 / RFC 9051) ----------------------------------------------------

struct imap_reply {
  std::string status;                   // "OK", "NO" or "BAD"
  std::string text;                     // the tagged line after the status
  std::size_t literal_bytes = 0;        // bytes of literals in them (FETCH bodies)
  std::optional<std::uint64_t> exists;  // from the last "* n EXISTS"
};

class imap_client {
 public:
  explicit imap_client(line_connection& connection) : c_(connection) {}
  // Reads the greeting: "* OK" or "* PREAUTH"; a "* BYE" greeting throws
  // service_unavailable.
  asio::awaitable<void> greeting();
  // Sends "<tag> <command>" and reads up to the tagged reply, skipping
  // untagged responses and their literals. Throws protocol_error unless OK.
  asio::awaitable<imap_reply> command(std::string_view command);
  // APPEND with a synchronizing literal (RFC 3501 7.5: wait for "+").
  asio::awaitable<imap_reply> append(std::string_view mailbox, std::string_view message);
  // Sends IDLE and returns at the "+" continuation (RFC 2177).
  asio::awaitable<void> idle();
  // Sends DONE and reads the tagged reply of the IDLE.
  asio::awaitable<imap_reply> done();

 private:
  asio::awaitable<imap_reply> read_reply();
  line_connection& c_;
  std::uint32_t next_tag_ = 1;
  std::string tag_;
};

// An IMAP quoted string (RFC 3501 4.3); throws for CR, LF or NUL.
std::string imap_quote(std::string_view s);

// --- POP3 (RFC 1939) -------------------------------------------------------------------

struct pop3_reply {
  std::string first_line;  // after "+OK "
  std::size_t lines = 0;   // multi-line replies: lines before "."
};

class pop3_client {
 public:
  explicit pop3_client(line_connection& connection) : c_(connection) {}
  // "+OK ..."; "-ERR ..." throws service_unavailable.
  asio::awaitable<void> greeting();
  // A single-line command; throws protocol_error on -ERR.
  asio::awaitable<pop3_reply> command(std::string_view command);
  // A command whose +OK reply is followed by a dot-terminated block (UIDL,
  // LIST, RETR, TOP, CAPA).
  asio::awaitable<pop3_reply> multi_line(std::string_view command);

 private:
  line_connection& c_;
};

// --- LMTP (RFC 2033) -------------------------------------------------------------------

struct lmtp_reply {
  int code = 0;      // of the last line
  std::string text;  // all lines, joined by " / "
};

class lmtp_client {
 public:
  explicit lmtp_client(line_connection& connection) : c_(connection) {}
  // "220 ..."; a 421 greeting throws service_unavailable.
  asio::awaitable<void> greeting();
  // Sends a command line and reads its (possibly multi-line) reply. Throws
  // protocol_error unless the code is 2xx or 3xx.
  asio::awaitable<lmtp_reply> command(std::string_view command);
  // MAIL FROM, RCPT TO, DATA, the dot-stuffed message, and the one reply per
  // recipient after it (RFC 2033 4.2). Throws unless every reply is 2xx.
  asio::awaitable<void> deliver(std::string_view sender, std::string_view recipient,
                                std::string_view message);

 private:
  asio::awaitable<lmtp_reply> read_reply();
  line_connection& c_;
  std::string data_;
};

// Lines starting with "." get another "." (RFC 5321 4.5.2), and the message
// ends with CRLF "." CRLF; appended to `out`.
void append_dot_stuffed(std::string_view message, std::string& out);

}  // namespace packmail::bench
