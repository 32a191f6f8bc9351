#include "wire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "packmail/storage/crc32c.h"

namespace packmail::replication::wire {
namespace {

std::string errno_text(std::string_view what) {
  return fmt::format("{}: {}", what, std::strerror(errno));
}

}  // namespace

writer& writer::u8(std::uint8_t v) {
  out_.push_back(static_cast<char>(v));
  return *this;
}
writer& writer::u16(std::uint16_t v) { return u8(v >> 8).u8(v & 0xFF); }
writer& writer::u32(std::uint32_t v) { return u16(v >> 16).u16(v & 0xFFFF); }
writer& writer::u64(std::uint64_t v) { return u32(v >> 32).u32(v & 0xFFFFFFFFu); }
writer& writer::bytes(std::string_view v) {
  out_.append(v);
  return *this;
}
writer& writer::str(std::string_view v) {
  u32(static_cast<std::uint32_t>(v.size()));
  return bytes(v);
}

std::string_view reader::bytes(std::size_t n) {
  if (in_.size() < n) throw error("truncated message");
  auto out = in_.substr(0, n);
  in_.remove_prefix(n);
  return out;
}
std::uint8_t reader::u8() { return static_cast<std::uint8_t>(bytes(1)[0]); }
std::uint16_t reader::u16() {
  std::uint16_t hi = u8();
  return static_cast<std::uint16_t>((hi << 8) | u8());
}
std::uint32_t reader::u32() {
  std::uint32_t hi = u16();
  return (hi << 16) | u16();
}
std::uint64_t reader::u64() {
  std::uint64_t hi = u32();
  return (hi << 32) | u32();
}
std::string reader::str() { return std::string(bytes(u32())); }
std::string_view reader::rest() { return bytes(in_.size()); }

std::string encode_header(type kind, std::string_view payload) {
  std::string h = writer()
                      .u32(static_cast<std::uint32_t>(payload.size()))
                      .u8(static_cast<std::uint8_t>(kind))
                      .u32(storage::crc32c(payload))
                      .take();
  return writer().bytes(h).u32(storage::crc32c(h)).take();
}

connection::connection(int fd) : fd_(fd) {
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

connection::~connection() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<connection> connection::dial(const std::string& host, std::uint16_t port,
                                             std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw error(fmt::format("{}: {}", host, ::gai_strerror(rc)));
  }
  std::string last = "no address";
  for (auto* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    auto c = std::make_unique<connection>(fd);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = errno_text("connect");
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      last = err ? fmt::format("connect: {}", std::strerror(err)) : "connect: timed out";
      continue;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    ::freeaddrinfo(found);
    return c;
  }
  ::freeaddrinfo(found);
  throw error(fmt::format("{}:{}: {}", host, port, last));
}

void connection::send(type kind, std::string_view payload) {
  if (payload.size() > k_max_payload) throw error("frame too large");
  const std::string header = encode_header(kind, payload);
  std::lock_guard lock(send_mutex_);
  // Header and payload in one call: two small writes would wait for the
  // peer's delayed ACK (Nagle), 40 ms per acknowledged batch.
  std::size_t sent = 0;
  const std::size_t total = header.size() + payload.size();
  while (sent < total) {
    iovec parts[2];
    int count = 0;
    if (sent < header.size()) {
      parts[count++] = {const_cast<char*>(header.data()) + sent, header.size() - sent};
    }
    const std::size_t payload_sent = sent > header.size() ? sent - header.size() : 0;
    if (payload_sent < payload.size()) {
      parts[count++] = {const_cast<char*>(payload.data()) + payload_sent,
                        payload.size() - payload_sent};
    }
    msghdr m{};
    m.msg_iov = parts;
    m.msg_iovlen = static_cast<std::size_t>(count);
    ssize_t n = ::sendmsg(fd_, &m, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw error(errno_text("send"));
    sent += static_cast<std::size_t>(n);
  }
}

void frame_parser::feed(std::string_view bytes) {
  if (pos_ > 0 && (pos_ == in_.size() || pos_ > (1u << 20))) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  in_.append(bytes);
}

std::optional<frame> frame_parser::next() {
  if (buffered() < k_header_size) return std::nullopt;
  const std::string_view header(in_.data() + pos_, k_header_size);
  reader r(header);
  const std::uint32_t length = r.u32();
  const auto kind = static_cast<type>(r.u8());
  const std::uint32_t payload_crc = r.u32();
  if (r.u32() != storage::crc32c(header.substr(0, k_header_size - 4))) {
    throw error("frame header checksum mismatch (corrupted in transit)");
  }
  if (length > k_max_payload) throw error(fmt::format("frame length {} is too large", length));
  if (buffered() < k_header_size + length) return std::nullopt;
  const std::string_view payload(in_.data() + pos_ + k_header_size, length);
  if (storage::crc32c(payload) != payload_crc) {
    throw error("frame checksum mismatch (corrupted in transit)");
  }
  frame f{kind, std::string(payload)};
  pos_ += k_header_size + length;
  return f;
}

std::optional<frame> connection::receive(std::chrono::milliseconds timeout) {
  for (;;) {
    if (auto f = parser_.next()) return f;
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      if (parser_.buffered() == 0) return std::nullopt;
      throw error("timed out inside a frame");
    }
    char buf[64 * 1024];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw error(errno_text("recv"));
    if (n == 0) throw error("connection closed by the peer");
    parser_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

bool connection::readable_now() {
  if (parser_.buffered() > 0) return true;
  int n = 0;
  return ::ioctl(fd_, FIONREAD, &n) == 0 && n > 0;
}

void connection::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

std::string connection::peer() const {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    port = ntohs(v4->sin_port);
    return fmt::format("{}:{}", host, port);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
  ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
  return fmt::format("[{}]:{}", host, ntohs(v6->sin6_port));
}

}  // namespace packmail::replication::wire

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace packmail::replication::wire {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string proof(std::string_view secret, std::string_view role, std::string_view nonce) {
  std::string message = std::string(role) + std::string(nonce);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace packmail::replication::wire
