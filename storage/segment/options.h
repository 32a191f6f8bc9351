// RocksDB options of the segment backend (STORAGE-REPLICATION.md sections 1,
// 3 and 6). Nothing here may break WAL replication: the WAL is always on, no
// pipelined/unordered writes, no 2PC, no TTL compaction filters.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "packmail/storage/store.h"

namespace packmail::storage::segment {

rocksdb::DBOptions make_db_options(const segment_options& options);

// One descriptor per CF in keys.h order, preceded by RocksDB's "default" CF
// (always present; unused by packmail).
std::vector<rocksdb::ColumnFamilyDescriptor> make_cf_descriptors(const segment_options& options);

// A RocksDB error as a storage status (corruption -> corrupt; busy, try
// again, incomplete, timed out, no space -> temporary; else internal),
// logged with `what`.
status from_rocks(const rocksdb::Status& s, std::string_view what);

// Live (not yet flushed) WAL bytes before the oldest CFs are flushed.
constexpr std::uint64_t k_max_total_wal_bytes = 128ull << 20;

}  // namespace packmail::storage::segment
