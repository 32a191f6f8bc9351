// What replication (replication/) needs from the segment backend's RocksDB
// database, and nothing more: the database of a running store, a database
// opened without the mail_store layer (a mirror applies the primary's WAL
// batches to it and nothing else writes), the epoch history, and digests that
// compare two databases at the same sequence (STORAGE-REPLICATION.md 3, 5, 6).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "packmail/storage/store.h"

namespace packmail::storage::segment_db {

// A RocksDB database of the segment backend and its column family handles
// ("default" first, then the backend's own). Borrowed: valid while its owner
// (the store or the database below) lives.
struct db_ref {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  explicit operator bool() const { return db != nullptr; }
};

// The database under a store opened by open_segment_store(); empty for any
// other backend.
db_ref of_store(mail_store& store);

// A segment database opened without a mail_store, for a mirror. Flushed and
// closed by the destructor.
class database {
 public:
  // Opens the existing database at options.path (never creates one).
  static result<std::unique_ptr<database>> open(const segment_options& options);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  db_ref ref() const { return {db_.get(), handles_}; }
  rocksdb::DB* db() const { return db_.get(); }

 private:
  database() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// True if path holds a database (a CURRENT file).
bool exists(const std::filesystem::path& path);

// The epoch history in the meta CF. Epoch 1 starts at sequence 1 unless a
// record says otherwise; every promotion adds (epoch, first sequence).
struct epochs {
  std::uint16_t current = 1;
  std::map<std::uint16_t, std::uint64_t> starts;  // epoch -> its first sequence

  // The last sequence a node that stopped in epoch e shares with this
  // history: everything after it was written by another primary. UINT64_MAX
  // when e is the current epoch (no fork).
  std::uint64_t fork_point(std::uint16_t e) const;
};
result<epochs> read_epochs(const db_ref& db);

// Makes the database the primary of a new epoch (current + 1): one synced
// batch holding the new epoch and its start sequence. Only while nothing else
// writes to db (a mirror being promoted, or offline).
result<std::uint16_t> begin_epoch(const db_ref& db);

// Per-mailbox SHA-256 digests at the snapshot (nullptr: the latest state):
// "user/mailbox" -> hex over the mailbox record, its index and change journal
// and every body it references; "(shared)" -> the meta and user CFs, the
// mailbox name index, the refcounts and the structure cache. Two databases at
// the same sequence have equal digests unless one of them is damaged.
result<std::map<std::string, std::string>> digests(const db_ref& db,
                                                   const rocksdb::Snapshot* snapshot);

}  // namespace packmail::storage::segment_db
