// Internal to replication/: the WAL-only stamp every committed batch carries,
// PutLogData {epoch u16, commit_ms u64} (STORAGE-REPLICATION.md section 5).
#pragma once

#include <cstdint>
#include <optional>

#include <rocksdb/write_batch.h>

namespace packmail::replication {

struct stamp {
  std::uint16_t epoch = 0;
  std::uint64_t commit_ms = 0;
};

// The wall clock in milliseconds since the Unix epoch (what stamps hold).
std::uint64_t unix_ms();
// Seconds from a unix_ms() value until now; 0 if it lies ahead.
double seconds_since(std::uint64_t then_ms);

// The batch's last stamp, if any.
std::optional<stamp> read_stamp(const rocksdb::WriteBatch& batch);

}  // namespace packmail::replication
