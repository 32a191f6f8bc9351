#include "common/net_client.h"

#include <netinet/in.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <charconv>

namespace packmail::bench {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t k_max_line = 1 << 20;
constexpr std::size_t k_max_literal = 64 << 20;
constexpr std::size_t k_read_chunk = 16 * 1024;

std::string printable(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char& ch : out) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = '?';
  }
  return out;
}

// "{123}" or "{123+}" at the end of an IMAP line: the literal's size.
std::optional<std::size_t> trailing_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return std::nullopt;
  }
  return n;
}

}  // namespace

// --- deadline_watchdog -------------------------------------------------------------

deadline_watchdog::deadline_watchdog(asio::any_io_executor executor) : timer_(executor) {}

awaitable<void> deadline_watchdog::run() {
  stopped_ = false;
  while (!stopped_) {
    timer_.expires_after(std::chrono::milliseconds(100));
    co_await timer_.async_wait(use_nothrow);
    if (stopped_) co_return;
    const auto now = line_connection::clock::now();
    for (line_connection* c : connections_) {
      if (c->deadline_ <= now) c->close();
    }
  }
}

// --- line_connection ---------------------------------------------------------------

line_connection::line_connection(asio::any_io_executor executor, deadline_watchdog& watchdog,
                                 clock::duration timeout)
    : socket_(executor), watchdog_(watchdog), timeout_(timeout) {
  watchdog_.connections_.insert(this);
}

line_connection::~line_connection() { watchdog_.connections_.erase(this); }

awaitable<void> line_connection::connect(const tcp::endpoint& server,
                                         std::optional<asio::ip::address> source) {
  close();
  buffer_.clear();
  start_ = 0;
  socket_.open(server.protocol());
  if (source) {
    // IP_BIND_ADDRESS_NO_PORT: choose the port at connect(), by the whole
    // 4-tuple, so thousands of connections can share one source address.
    const int one = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socket_.bind(tcp::endpoint(*source, 0));
  }
  arm();
  auto [ec] = co_await socket_.async_connect(server, use_nothrow);
  disarm();
  if (ec) throw boost::system::system_error(ec, "connect " + server.address().to_string());
  socket_.set_option(tcp::no_delay(true));
}

void line_connection::close() {
  if (!socket_.is_open()) return;
  error_code ignored;
  socket_.close(ignored);
}

awaitable<void> line_connection::fill() {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > k_read_chunk) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  const std::size_t old = buffer_.size();
  buffer_.resize(old + k_read_chunk);
  arm();
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer_.data() + old, k_read_chunk),
                                                  use_nothrow);
  disarm();
  buffer_.resize(old + n);
  if (ec) {
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
      throw boost::system::system_error(asio::error::timed_out, "read (deadline or closed)");
    }
    throw boost::system::system_error(ec, "read");
  }
}

awaitable<std::string_view> line_connection::read_line() {
  std::size_t scanned = start_;
  for (;;) {
    const auto lf = buffer_.find('\n', scanned);
    if (lf != std::string::npos) {
      std::size_t end = lf;
      if (end > start_ && buffer_[end - 1] == '\r') --end;
      std::string_view line(buffer_.data() + start_, end - start_);
      start_ = lf + 1;
      co_return line;
    }
    if (buffer_.size() - start_ > k_max_line) throw protocol_error("line over 1 MiB");
    scanned = buffer_.size();
    // fill() may move the unread data to the front of the buffer.
    const std::size_t offset = scanned - start_;
    co_await fill();
    scanned = start_ + offset;
  }
}

awaitable<std::string_view> line_connection::read_exact(std::size_t n) {
  while (buffer_.size() - start_ < n) co_await fill();
  std::string_view bytes(buffer_.data() + start_, n);
  start_ += n;
  co_return bytes;
}

awaitable<void> line_connection::write(std::string_view bytes) {
  arm();
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(bytes), use_nothrow);
  disarm();
  if (ec) throw boost::system::system_error(ec, "write");
}

// --- IMAP --------------------------------------------------------------------------------

std::string imap_quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '\r' || ch == '\n' || ch == '\0') throw std::invalid_argument("not quotable");
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
  return out;
}

awaitable<void> imap_client::greeting() {
  const std::string_view line = co_await c_.read_line();
  if (line.starts_with("* OK") || line.starts_with("* PREAUTH")) co_return;
  if (line.starts_with("* BYE")) throw service_unavailable("IMAP greeting: " + printable(line));
  throw protocol_error("IMAP greeting: " + printable(line));
}

awaitable<imap_reply> imap_client::read_reply() {
  imap_reply reply;
  for (;;) {
    std::string_view line = co_await c_.read_line();
    if (line.starts_with(tag_) && line.size() > tag_.size() && line[tag_.size()] == ' ') {
      line.remove_prefix(tag_.size() + 1);
      const auto space = line.find(' ');
      reply.status = std::string(line.substr(0, space));
      if (space != std::string_view::npos) reply.text = std::string(line.substr(space + 1));
      co_return reply;
    }
    if (line.starts_with("* ") && line.ends_with(" EXISTS")) {
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(line.data() + 2, line.data() + line.size(), n);
      if (ec == std::errc() && std::string_view(end, line.data() + line.size()) == " EXISTS") {
        reply.exists = n;
      }
    }
    // A response line may carry several literals: each is followed by the
    // rest of the line.
    while (auto n = trailing_literal(line)) {
      if (*n > k_max_literal) throw protocol_error("literal over 64 MiB: " + printable(line));
      co_await c_.read_exact(*n);
      reply.literal_bytes += *n;
      line = co_await c_.read_line();
    }
  }
}

awaitable<imap_reply> imap_client::command(std::string_view command) {
  tag_ = "a" + std::to_string(next_tag_++);
  std::string line;
  line.reserve(tag_.size() + command.size() + 3);
  line.append(tag_).append(" ").append(command).append("\r\n");
  co_await c_.write(line);
  imap_reply reply = co_await read_reply();
  if (reply.status != "OK") {
    throw protocol_error(std::string(command.substr(0, command.find(' '))) + ": " + reply.status +
                         " " + printable(reply.text));
  }
  co_return reply;
}

awaitable<imap_reply> imap_client::append(std::string_view mailbox, std::string_view message) {
  tag_ = "a" + std::to_string(next_tag_++);
  const std::string line =
      tag_ + " APPEND " + imap_quote(mailbox) + " {" + std::to_string(message.size()) + "}\r\n";
  co_await c_.write(line);
  const std::string_view go_ahead = co_await c_.read_line();
  if (!go_ahead.starts_with("+")) throw protocol_error("APPEND: " + printable(go_ahead));
  std::string body;
  body.reserve(message.size() + 2);
  body.append(message).append("\r\n");
  co_await c_.write(body);
  imap_reply reply = co_await read_reply();
  if (reply.status != "OK") throw protocol_error("APPEND: " + reply.status + " " + reply.text);
  co_return reply;
}

awaitable<void> imap_client::idle() {
  tag_ = "a" + std::to_string(next_tag_++);
  co_await c_.write(tag_ + " IDLE\r\n");
  for (;;) {
    const std::string_view line = co_await c_.read_line();
    if (line.starts_with("+")) co_return;
    if (line.starts_with(tag_)) throw protocol_error("IDLE: " + printable(line));
  }
}

awaitable<imap_reply> imap_client::done() {
  co_await c_.write("DONE\r\n");
  imap_reply reply = co_await read_reply();
  if (reply.status != "OK") throw protocol_error("IDLE DONE: " + reply.status + " " + reply.text);
  co_return reply;
}

// --- POP3 --------------------------------------------------------------------------------

awaitable<void> pop3_client::greeting() {
  const std::string_view line = co_await c_.read_line();
  if (line.starts_with("+OK")) co_return;
  if (line.starts_with("-ERR")) throw service_unavailable("POP3 greeting: " + printable(line));
  throw protocol_error("POP3 greeting: " + printable(line));
}

awaitable<pop3_reply> pop3_client::command(std::string_view command) {
  std::string line(command);
  line += "\r\n";
  co_await c_.write(line);
  const std::string_view reply_line = co_await c_.read_line();
  if (!reply_line.starts_with("+OK")) {
    throw protocol_error(std::string(command.substr(0, command.find(' '))) + ": " +
                         printable(reply_line));
  }
  pop3_reply reply;
  reply.first_line = std::string(reply_line.substr(std::min<std::size_t>(4, reply_line.size())));
  co_return reply;
}

awaitable<pop3_reply> pop3_client::multi_line(std::string_view command) {
  pop3_reply reply = co_await this->command(command);
  for (;;) {
    const std::string_view line = co_await c_.read_line();
    if (line == ".") co_return reply;
    ++reply.lines;
  }
}

// --- LMTP --------------------------------------------------------------------------------

void append_dot_stuffed(std::string_view message, std::string& out) {
  out.reserve(out.size() + message.size() + 16);
  bool line_start = true;
  for (char ch : message) {
    if (line_start && ch == '.') out += '.';
    out += ch;
    line_start = ch == '\n';
  }
  if (!message.ends_with("\r\n")) out += "\r\n";
  out += ".\r\n";
}

awaitable<lmtp_reply> lmtp_client::read_reply() {
  lmtp_reply reply;
  for (;;) {
    const std::string_view line = co_await c_.read_line();
    int code = 0;
    const auto [end, ec] =
        std::from_chars(line.data(), line.data() + std::min<std::size_t>(3, line.size()), code);
    if (ec != std::errc() || end != line.data() + 3) {
      throw protocol_error("LMTP reply: " + printable(line));
    }
    if (!reply.text.empty()) reply.text += " / ";
    reply.text += printable(line);
    reply.code = code;
    if (line.size() == 3 || line[3] == ' ') co_return reply;
    if (line[3] != '-') throw protocol_error("LMTP reply: " + printable(line));
  }
}

awaitable<void> lmtp_client::greeting() {
  lmtp_reply reply = co_await read_reply();
  if (reply.code == 220) co_return;
  if (reply.code == 421) throw service_unavailable("LMTP greeting: " + reply.text);
  throw protocol_error("LMTP greeting: " + reply.text);
}

awaitable<lmtp_reply> lmtp_client::command(std::string_view command) {
  std::string line(command);
  line += "\r\n";
  co_await c_.write(line);
  lmtp_reply reply = co_await read_reply();
  if (reply.code < 200 || reply.code >= 400) {
    throw protocol_error(std::string(command.substr(0, command.find(':'))) + ": " + reply.text);
  }
  co_return reply;
}

awaitable<void> lmtp_client::deliver(std::string_view sender, std::string_view recipient,
                                     std::string_view message) {
  co_await command("MAIL FROM:<" + std::string(sender) + ">");
  co_await command("RCPT TO:<" + std::string(recipient) + ">");
  const lmtp_reply go_ahead = co_await command("DATA");
  if (go_ahead.code != 354) throw protocol_error("DATA: " + go_ahead.text);
  data_.clear();
  append_dot_stuffed(message, data_);
  co_await c_.write(data_);
  // One reply per accepted recipient (RFC 2033 4.2): here exactly one.
  const lmtp_reply stored = co_await read_reply();
  if (stored.code < 200 || stored.code >= 300) throw protocol_error("DATA end: " + stored.text);
}

}  // namespace packmail::bench
