// Internal to replication/: the framing and socket I/O of the replication
// protocol (docs/replication-protocol.md). Blocking sockets with deadlines:
// replication runs on its own threads, never on the client I/O threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace packmail::replication::wire {

constexpr std::uint16_t k_version = 1;
constexpr std::string_view k_magic = "PKMR";
// A frame's payload is at most this large; a larger length is an error.
constexpr std::uint32_t k_max_payload = 256u << 20;
// length u32, type u8, crc32c of the payload u32, crc32c of the 9 bytes
// before it u32: a damaged length is caught before anything waits for it.
constexpr std::size_t k_header_size = 13;

enum class type : std::uint8_t {
  hello = 1,       // P->M: magic, version, nonce
  login = 2,       // M->P: version, proof, nonce, has_db, epoch, sequence
  welcome = 3,     // P->M: proof, epoch, latest sequence, plan, fork point
  error = 4,       // either way: a message; the sender closes
  checkpoint = 5,  // P->M: checkpoint id, sequence, files (name, size)
  want = 6,        // M->P: indexes of the files to send
  file_data = 7,   // P->M: index, offset, bytes
  file_end = 8,    // P->M: index, crc32c of the whole file
  checkpoint_end = 9,
  batch = 10,      // P->M: first sequence, WriteBatch bytes
  heartbeat = 11,  // P->M: primary's latest sequence, time (ms)
  ack = 12,        // M->P: durable sequence
  verify = 13,     // P->M: request id, sequence
  digests = 14,    // M->P: request id, JSON object
  resync = 15,     // P->M: reason; the mirror must bootstrap again
};

enum class plan : std::uint8_t { tail = 0, bootstrap = 1, diverged = 2 };

// The peer broke the protocol, a checksum failed, or the connection failed.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct frame {
  type kind{};
  std::string payload;
};

// Big-endian payload encoding.
class writer {
 public:
  writer& u8(std::uint8_t v);
  writer& u16(std::uint16_t v);
  writer& u32(std::uint32_t v);
  writer& u64(std::uint64_t v);
  writer& bytes(std::string_view v);  // raw, no length
  writer& str(std::string_view v);    // u32 length + bytes
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Throws wire::error on a short payload.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string_view bytes(std::size_t n);
  std::string str();
  std::string_view rest();

 private:
  std::string_view in_;
};

// Header of a frame: length, type, the payload's crc32c, the header's crc32c.
std::string encode_header(type kind, std::string_view payload);

// Splits received bytes into frames and checks both checksums; no I/O.
class frame_parser {
 public:
  void feed(std::string_view bytes);
  // The next complete frame, or nullopt until more bytes arrive. Throws
  // wire::error on a damaged header or payload or an oversized length (the
  // header is checked as soon as it is complete).
  std::optional<frame> next();
  // Bytes received and not yet returned in a frame.
  std::size_t buffered() const { return in_.size() - pos_; }

 private:
  std::string in_;
  std::size_t pos_ = 0;
};

// A connected TCP socket; closes it on destruction.
class connection {
 public:
  explicit connection(int fd);  // takes ownership; sets TCP_NODELAY
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Connects to host:port within timeout. Throws wire::error.
  static std::unique_ptr<connection> dial(const std::string& host, std::uint16_t port,
                                          std::chrono::milliseconds timeout);

  // Sends one frame (thread-safe against concurrent send()s).
  void send(type kind, std::string_view payload);
  // Receives one frame, waiting at most timeout for each read. nullopt when
  // the wait expires before the first byte of a frame; throws wire::error on a
  // checksum failure, a malformed frame, a timeout inside a frame or a closed
  // connection.
  std::optional<frame> receive(std::chrono::milliseconds timeout);
  // True if received bytes are waiting (buffered or in the socket).
  bool readable_now();
  // Wakes a receive() blocked in another thread (it throws).
  void shutdown();
  std::string peer() const;

 private:
  int fd_ = -1;
  frame_parser parser_;
  std::mutex send_mutex_;
};

}  // namespace packmail::replication::wire

namespace packmail::replication::wire {

// n random bytes (OpenSSL's CSPRNG).
std::string random_bytes(std::size_t n);
// HMAC-SHA256(secret, role | nonce): proves knowledge of the shared secret.
std::string proof(std::string_view secret, std::string_view role, std::string_view nonce);
// Constant-time comparison.
bool same(std::string_view a, std::string_view b);

}  // namespace packmail::replication::wire
