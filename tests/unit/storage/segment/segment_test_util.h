// Helpers for the segment backend tests: a temporary directory, and raw
// RocksDB access to the store's column families (to corrupt or inspect it).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "keys.h"
#include "packmail/storage/store.h"

namespace packmail::storage::segment::test {

// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

segment_options test_options(const std::filesystem::path& path);
std::unique_ptr<mail_store> open_or_fail(const segment_options& options);

// The store's database opened directly (the store must be closed).
class raw_db {
 public:
  explicit raw_db(const std::filesystem::path& path);
  ~raw_db();
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(cf_index i) { return handles_[i + 1]; }
  void put(cf_index i, const std::string& key, const std::string& value);
  // nullopt when absent.
  std::optional<std::string> get(cf_index i, const std::string& key);
  std::vector<std::pair<std::string, std::string>> scan(cf_index i);

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

std::string make_message(int seq, std::size_t body_bytes);

}  // namespace packmail::storage::segment::test
