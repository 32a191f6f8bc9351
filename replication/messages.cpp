#include "messages.h"

#include <fmt/format.h>

namespace packmail::replication::msg {
namespace {

void require_end(wire::reader& r) {
  if (!r.rest().empty()) throw wire::error("trailing bytes in a message");
}

std::string fixed(wire::reader& r, std::size_t n) { return std::string(r.bytes(n)); }

}  // namespace

std::string encode(const hello& m) {
  return wire::writer().bytes(wire::k_magic).u16(wire::k_version).bytes(m.nonce).take();
}

hello decode_hello(std::string_view payload) {
  wire::reader r(payload);
  if (r.bytes(wire::k_magic.size()) != wire::k_magic) {
    throw wire::error("not a packmail replication port");
  }
  if (const auto v = r.u16(); v != wire::k_version) {
    throw wire::error(
        fmt::format("the primary speaks protocol version {}, this mirror {}", v, wire::k_version));
  }
  hello m{fixed(r, k_nonce_size)};
  require_end(r);
  return m;
}

std::string encode(const login& m) {
  return wire::writer()
      .u16(m.version)
      .bytes(m.proof)
      .bytes(m.nonce)
      .u8(m.has_db ? 1 : 0)
      .u16(m.epoch)
      .u64(m.sequence)
      .take();
}

login decode_login(std::string_view payload) {
  wire::reader r(payload);
  login m;
  m.version = r.u16();
  if (m.version != wire::k_version) {
    throw wire::error(
        fmt::format("protocol version {} (this primary speaks {})", m.version, wire::k_version));
  }
  m.proof = fixed(r, k_proof_size);
  m.nonce = fixed(r, k_nonce_size);
  const auto has_db = r.u8();
  if (has_db > 1) throw wire::error("malformed login");
  m.has_db = has_db == 1;
  m.epoch = r.u16();
  m.sequence = r.u64();
  require_end(r);
  return m;
}

std::string encode(const welcome& m) {
  return wire::writer()
      .bytes(m.proof)
      .u16(m.epoch)
      .u64(m.latest)
      .u8(static_cast<std::uint8_t>(m.plan))
      .u64(m.fork)
      .str(m.reason)
      .take();
}

welcome decode_welcome(std::string_view payload) {
  wire::reader r(payload);
  welcome m;
  m.proof = fixed(r, k_proof_size);
  m.epoch = r.u16();
  m.latest = r.u64();
  const auto plan = r.u8();
  if (plan > static_cast<std::uint8_t>(wire::plan::diverged)) throw wire::error("unknown plan");
  m.plan = static_cast<wire::plan>(plan);
  m.fork = r.u64();
  m.reason = r.str();
  require_end(r);
  return m;
}

std::string encode(const checkpoint_list& m) {
  wire::writer w;
  w.str(m.identity).u64(m.sequence).u32(static_cast<std::uint32_t>(m.files.size()));
  for (const auto& [name, size] : m.files) w.str(name).u64(size);
  return w.take();
}

checkpoint_list decode_checkpoint_list(std::string_view payload) {
  wire::reader r(payload);
  checkpoint_list m;
  m.identity = r.str();
  m.sequence = r.u64();
  const std::uint32_t count = r.u32();
  for (std::uint32_t i = 0; i < count; ++i) {  // grows with the bytes actually there
    std::string name = r.str();
    const std::uint64_t size = r.u64();
    if (name.empty() || name.size() > 255 || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos || name.starts_with(".")) {
      throw wire::error("bad file name in the checkpoint list");
    }
    m.files.emplace_back(std::move(name), size);
  }
  require_end(r);
  return m;
}

std::string encode_want(const std::vector<std::uint32_t>& files) {
  wire::writer w;
  w.u32(static_cast<std::uint32_t>(files.size()));
  for (auto i : files) w.u32(i);
  return w.take();
}

std::vector<std::uint32_t> decode_want(std::string_view payload, std::size_t file_count) {
  wire::reader r(payload);
  const std::uint32_t count = r.u32();
  if (count > file_count) throw wire::error("more wanted files than the checkpoint holds");
  std::vector<std::uint32_t> files;
  files.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto index = r.u32();
    if (index >= file_count) throw wire::error("wanted file index out of range");
    files.push_back(index);
  }
  require_end(r);
  return files;
}

std::string encode(const file_data& m) {
  return wire::writer().u32(m.index).u64(m.offset).bytes(m.bytes).take();
}

file_data decode_file_data(std::string_view payload) {
  wire::reader r(payload);
  file_data m;
  m.index = r.u32();
  m.offset = r.u64();
  m.bytes = r.rest();
  return m;
}

std::string encode(const file_end& m) { return wire::writer().u32(m.index).u32(m.crc).take(); }

file_end decode_file_end(std::string_view payload) {
  wire::reader r(payload);
  file_end m;
  m.index = r.u32();
  m.crc = r.u32();
  require_end(r);
  return m;
}

std::string encode(const batch& m) { return wire::writer().u64(m.first).bytes(m.data).take(); }

batch decode_batch(std::string_view payload) {
  wire::reader r(payload);
  batch m;
  m.first = r.u64();
  m.data = r.rest();
  if (m.data.size() < 12) throw wire::error("a batch shorter than a WriteBatch header");
  return m;
}

std::string encode(const heartbeat& m) {
  return wire::writer().u64(m.sequence).u64(m.unix_ms).take();
}

heartbeat decode_heartbeat(std::string_view payload) {
  wire::reader r(payload);
  heartbeat m;
  m.sequence = r.u64();
  m.unix_ms = r.u64();
  require_end(r);
  return m;
}

std::string encode_ack(std::uint64_t sequence) { return wire::writer().u64(sequence).take(); }

std::uint64_t decode_ack(std::string_view payload) {
  wire::reader r(payload);
  const auto sequence = r.u64();
  require_end(r);
  return sequence;
}

std::string encode(const verify& m) { return wire::writer().u64(m.id).u64(m.sequence).take(); }

verify decode_verify(std::string_view payload) {
  wire::reader r(payload);
  verify m;
  m.id = r.u64();
  m.sequence = r.u64();
  require_end(r);
  return m;
}

std::string encode(const digests& m) { return wire::writer().u64(m.id).bytes(m.json).take(); }

digests decode_digests(std::string_view payload) {
  wire::reader r(payload);
  digests m;
  m.id = r.u64();
  m.json = r.rest();
  return m;
}

std::string encode_text(std::string_view text) { return wire::writer().str(text).take(); }

std::string decode_text(std::string_view payload) {
  wire::reader r(payload);
  auto text = r.str();
  require_end(r);
  return text;
}

}  // namespace packmail::replication::msg
