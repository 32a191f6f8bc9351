#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "packmail/storage/crc32c.h"
#include "wire.h"

using namespace packmail::replication;

namespace {

// Two connected ends: frames go in at `a` and come out at `b`; raw bytes can
// be written to `raw` (a's descriptor) to forge or damage a frame.
struct pair_of_ends {
  int fds[2]{-1, -1};
  std::unique_ptr<wire::connection> a, b;
  pair_of_ends() {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    a = std::make_unique<wire::connection>(fds[0]);
    b = std::make_unique<wire::connection>(fds[1]);
  }
  void raw(const std::string& bytes) {
    REQUIRE(::write(fds[0], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
};

std::string frame_bytes(wire::type kind, const std::string& payload) {
  return wire::encode_header(kind, payload) + payload;
}

}  // namespace

TEST_CASE("frames arrive whole and in order", "[wire_frame]") {
  pair_of_ends p;
  const std::string big(3 << 20, 'x');
  p.a->send(wire::type::heartbeat, wire::writer().u64(42).u64(7).take());
  std::thread sender([&] { p.a->send(wire::type::batch, big); });
  auto first = p.b->receive(std::chrono::seconds(5));
  REQUIRE(first);
  CHECK(first->kind == wire::type::heartbeat);
  wire::reader r(first->payload);
  CHECK(r.u64() == 42);
  CHECK(r.u64() == 7);
  auto second = p.b->receive(std::chrono::seconds(5));
  sender.join();
  REQUIRE(second);
  CHECK(second->kind == wire::type::batch);
  CHECK(second->payload == big);
  CHECK_FALSE(p.b->receive(std::chrono::milliseconds(10)));  // idle: nothing, no error
}

TEST_CASE("a damaged byte anywhere in a frame is refused, never delivered", "[wire_frame]") {
  const std::string payload = wire::writer().u64(1001).bytes("a write batch").take();
  const std::string good = frame_bytes(wire::type::batch, payload);
  for (std::size_t i = 0; i < good.size(); ++i) {
    pair_of_ends p;
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    p.raw(bad);
    ::shutdown(p.fds[0], SHUT_WR);  // a damaged length must not wait for more bytes forever
    INFO("damaged byte " << i);
    CHECK_THROWS_AS(p.b->receive(std::chrono::seconds(2)), wire::error);
  }
}

TEST_CASE("an oversized length is refused before anything is read", "[wire_frame]") {
  pair_of_ends p;
  // A well-formed header (its own checksum matches) announcing too much.
  std::string header = wire::writer().u32(wire::k_max_payload + 1).u8(10).u32(0).take();
  header = wire::writer().bytes(header).u32(packmail::storage::crc32c(header)).take();
  p.raw(header);
  CHECK_THROWS_WITH(p.b->receive(std::chrono::seconds(2)), Catch::Contains("too large"));
}

TEST_CASE("a damaged header is refused without waiting for its payload", "[wire_frame]") {
  const std::string good = frame_bytes(wire::type::batch, std::string(1000, 'b'));
  for (std::size_t i = 0; i < wire::k_header_size; ++i) {
    pair_of_ends p;
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    p.raw(bad.substr(0, wire::k_header_size));  // the peer stays connected
    INFO("damaged header byte " << i);
    CHECK_THROWS_WITH(p.b->receive(std::chrono::seconds(5)), Catch::Contains("checksum"));
  }
}

TEST_CASE("a frame cut short by the peer is an error", "[wire_frame]") {
  pair_of_ends p;
  const std::string good = frame_bytes(wire::type::ack, wire::writer().u64(5).take());
  p.raw(good.substr(0, good.size() - 3));
  ::shutdown(p.fds[0], SHUT_WR);
  CHECK_THROWS_AS(p.b->receive(std::chrono::seconds(2)), wire::error);
}

TEST_CASE("a truncated message body is an error, not a short read", "[wire_frame]") {
  const std::string announced_10_holds_3 = wire::writer().u32(10).bytes("abc").take();
  wire::reader r(announced_10_holds_3);
  CHECK_THROWS_AS(r.str(), wire::error);
  wire::reader empty("");
  CHECK_THROWS_AS(empty.u64(), wire::error);
}

TEST_CASE("proofs need the same secret, role and nonce", "[wire_frame]") {
  const auto nonce = wire::random_bytes(32);
  CHECK(nonce.size() == 32);
  CHECK(nonce != wire::random_bytes(32));
  const auto p = wire::proof("secret", "mirror", nonce);
  CHECK(wire::same(p, wire::proof("secret", "mirror", nonce)));
  CHECK_FALSE(wire::same(p, wire::proof("secret2", "mirror", nonce)));
  CHECK_FALSE(wire::same(p, wire::proof("secret", "primary", nonce)));
  CHECK_FALSE(wire::same(p, wire::proof("secret", "mirror", wire::random_bytes(32))));
}
