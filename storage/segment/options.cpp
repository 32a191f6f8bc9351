#include "options.h"

#include <rocksdb/cache.h>
#include <rocksdb/file_checksum.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "keys.h"

namespace packmail::storage::segment {

status from_rocks(const rocksdb::Status& s, std::string_view what) {
  errc code = errc::internal;
  if (s.IsCorruption()) {
    code = errc::corrupt;
  } else if (s.IsBusy() || s.IsTryAgain() || s.IsIncomplete() || s.IsTimedOut() || s.IsNoSpace()) {
    code = errc::temporary;
  }
  std::string message = fmt::format("{}: {}", what, s.ToString());
  spdlog::error("storage: {}", message);
  return status(code, std::move(message));
}

rocksdb::DBOptions make_db_options(const segment_options& options) {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.paranoid_checks = true;
  // A torn tail is the only damage a crash can cause; corruption in the middle
  // of the WAL must stop the open rather than silently drop acknowledged
  // batches after it (section 1, Durability).
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  o.track_and_verify_wals_in_manifest = true;
  o.manual_wal_flush = false;
  o.file_checksum_gen_factory = rocksdb::GetFileChecksumGenCrc32cFactory();
  // Archive retention for mirrors (section 3); it also disables WAL recycling.
  o.WAL_ttl_seconds = options.wal_archive_seconds;
  o.WAL_size_limit_MB = options.wal_archive_mb;
  // Rarely written CFs (meta, user) would otherwise pin every WAL file since
  // their last flush: force their flush once live WALs pass this size. Also
  // bounds recovery time after a crash.
  o.max_total_wal_size = k_max_total_wal_bytes;
  o.max_background_jobs = 2;
  o.keep_log_file_num = 5;
  o.bytes_per_sync = 1 << 20;
  // Writers waiting for a group commit block instead of spinning: with more
  // writers than cores (8 LMTP deliveries on 2 cores) spinning only steals CPU
  // from the writer that holds the group (store_bench: ~5% less CPU per append).
  o.enable_write_thread_adaptive_yield = false;
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> make_cf_descriptors(const segment_options& options) {
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  auto base = [&](std::size_t block_size, bool bloom) {
    rocksdb::ColumnFamilyOptions cf;
    cf.compression = rocksdb::kZSTD;
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.block_size = block_size;
    t.checksum = rocksdb::kXXH3;
    if (bloom) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.whole_key_filtering = true;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    cf.memtable_protection_bytes_per_key = 8;
    return cf;
  };

  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  out.emplace_back(rocksdb::kDefaultColumnFamilyName, base(4096, false));
  for (int i = 0; i < k_cf_count; ++i) {
    rocksdb::ColumnFamilyOptions cf;
    switch (i) {
      case cf_meta:
      case cf_user:
      case cf_mbox:
        cf = base(4096, true);
        cf.paranoid_file_checks = true;  // small CFs: re-reading new SSTs is cheap
        break;
      case cf_idx:
      case cf_chg:
        cf = base(4096, true);
        // Every read of these CFs is a scan of one mailbox: its 8-byte id.
        cf.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
        cf.memtable_prefix_bloom_size_ratio = 0.1;
        break;
      case cf_body:
        // Dozens of <1 KiB messages per 16 KiB block, one zstd dictionary per
        // SST; the same compression on every level keeps trivial moves possible.
        cf = base(16 * 1024, true);
        cf.compression_opts.max_dict_bytes = 32 * 1024;
        cf.compression_opts.zstd_max_train_bytes = 100 * 32 * 1024;
        cf.compression_opts.max_dict_buffer_bytes = 64ull << 20;
        cf.enable_blob_files = true;
        cf.min_blob_size = options.min_blob_size;
        cf.blob_compression_type = rocksdb::kZSTD;
        cf.enable_blob_garbage_collection = true;
        cf.blob_garbage_collection_age_cutoff = 0.25;
        cf.blob_garbage_collection_force_threshold = 0.5;
        cf.optimize_filters_for_hits = true;
        // Expunged bodies are SingleDelete tombstones; compact files full of them.
        cf.table_properties_collector_factories.emplace_back(
            rocksdb::NewCompactOnDeletionCollectorFactory(128, 64));
        break;
      case cf_ref:
      case cf_cache:
        cf = base(4096, true);
        cf.table_properties_collector_factories.emplace_back(
            rocksdb::NewCompactOnDeletionCollectorFactory(128, 64));
        break;
    }
    out.emplace_back(k_cf_names[i], cf);
  }
  return out;
}

}  // namespace packmail::storage::segment
