// Internal to replication/: the messages of the replication protocol, encoded
// and decoded without I/O (docs/replication-protocol.md, "Message types").
// Every decode_* throws wire::error on a payload that is short, too long, or
// holds an impossible value; nothing is allocated from an unchecked count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wire.h"

namespace packmail::replication::msg {

constexpr std::size_t k_nonce_size = 32;
constexpr std::size_t k_proof_size = 32;  // HMAC-SHA256

struct hello {
  std::string nonce;
};
std::string encode(const hello& m);
hello decode_hello(std::string_view payload);  // checks magic and version

struct login {
  std::uint16_t version = wire::k_version;
  std::string proof;
  std::string nonce;
  bool has_db = false;
  std::uint16_t epoch = 0;
  std::uint64_t sequence = 0;
};
std::string encode(const login& m);
login decode_login(std::string_view payload);

struct welcome {
  std::string proof;
  std::uint16_t epoch = 0;
  std::uint64_t latest = 0;
  wire::plan plan = wire::plan::tail;
  std::uint64_t fork = 0;
  std::string reason;
};
std::string encode(const welcome& m);
welcome decode_welcome(std::string_view payload);

struct checkpoint_list {
  std::string identity;  // the primary database's identity
  std::uint64_t sequence = 0;
  std::vector<std::pair<std::string, std::uint64_t>> files;  // name, size
};
std::string encode(const checkpoint_list& m);
// File names must be plain names: not empty, no '/', not starting with '.'.
checkpoint_list decode_checkpoint_list(std::string_view payload);

// Indexes into the checkpoint list; decode checks them against file_count.
std::string encode_want(const std::vector<std::uint32_t>& files);
std::vector<std::uint32_t> decode_want(std::string_view payload, std::size_t file_count);

struct file_data {
  std::uint32_t index = 0;
  std::uint64_t offset = 0;
  std::string_view bytes;  // points into the payload
};
std::string encode(const file_data& m);
file_data decode_file_data(std::string_view payload);

struct file_end {
  std::uint32_t index = 0;
  std::uint32_t crc = 0;  // crc32c of the whole file
};
std::string encode(const file_end& m);
file_end decode_file_end(std::string_view payload);

struct batch {
  std::uint64_t first = 0;  // the sequence of its first record
  std::string_view data;    // WriteBatch bytes, pointing into the payload
};
std::string encode(const batch& m);
batch decode_batch(std::string_view payload);

struct heartbeat {
  std::uint64_t sequence = 0;  // the primary's latest
  std::uint64_t unix_ms = 0;
};
std::string encode(const heartbeat& m);
heartbeat decode_heartbeat(std::string_view payload);

// ACK: the mirror's durable sequence.
std::string encode_ack(std::uint64_t sequence);
std::uint64_t decode_ack(std::string_view payload);

struct verify {
  std::uint64_t id = 0;
  std::uint64_t sequence = 0;
};
std::string encode(const verify& m);
verify decode_verify(std::string_view payload);

struct digests {
  std::uint64_t id = 0;
  std::string_view json;
};
std::string encode(const digests& m);
digests decode_digests(std::string_view payload);

// ERROR and RESYNC: one text.
std::string encode_text(std::string_view text);
std::string decode_text(std::string_view payload);

}  // namespace packmail::replication::msg
