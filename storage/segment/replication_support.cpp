// The segment backend's side of replication (segment_replication.h).
#include <openssl/evp.h>

#include <chrono>
#include <filesystem>
#include <limits>

#include <fmt/format.h>
#include <rocksdb/write_batch.h>

#include "keys.h"
#include "options.h"
#include "packmail/storage/segment_replication.h"
#include "segment_store.h"

namespace packmail::storage::segment_db {
namespace {

using namespace packmail::storage::segment;

// SHA-256 through OpenSSL's EVP interface.
class sha256 {
 public:
  sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~sha256() { EVP_MD_CTX_free(ctx_); }
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  // Length-prefixed, so that ("ab","c") and ("a","bc") differ.
  void add(std::string_view bytes) {
    std::string n;
    put_u64(n, bytes.size());
    EVP_DigestUpdate(ctx_, n.data(), n.size());
    EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
  }
  std::string hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, out, &len);
    std::string s;
    for (unsigned i = 0; i < len; ++i) s += fmt::format("{:02x}", out[i]);
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

rocksdb::ColumnFamilyHandle* cf(const db_ref& db, cf_index i) { return db.handles.at(i + 1); }

// Adds every key and value of one CF (or of one prefix in it) to h.
status hash_range(const db_ref& db, rocksdb::ReadOptions ro, cf_index i, std::string_view prefix,
                  sha256& h, const std::function<status(std::string_view)>& on_value = {}) {
  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, cf(db, i)));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Next()) {
    h.add(it->key().ToStringView());
    h.add(it->value().ToStringView());
    if (on_value) {
      if (auto s = on_value(it->value().ToStringView()); !s.ok()) return s;
    }
  }
  if (!it->status().ok()) return from_rocks(it->status(), k_cf_names[i]);
  return {};
}

}  // namespace

db_ref of_store(mail_store& store) {
  auto* segment = dynamic_cast<segment_store*>(&store);
  return segment ? segment->database() : db_ref{};
}

bool exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::exists(path / "CURRENT", ec);
}

result<std::unique_ptr<database>> database::open(const segment_options& options) {
  if (!segment_db::exists(options.path)) {
    return status(errc::not_found, fmt::format("no database in {}", options.path.string()));
  }
  auto db_opts = make_db_options(options);
  db_opts.create_if_missing = false;
  db_opts.create_missing_column_families = false;
  std::unique_ptr<database> d(new database());
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_opts, options.path.string(), make_cf_descriptors(options),
                             &d->handles_, &raw);
  if (!s.ok()) return from_rocks(s, fmt::format("opening {}", options.path.string()));
  d->db_.reset(raw);
  return d;
}

database::~database() {
  if (!db_) return;
  rocksdb::FlushOptions flush;
  flush.allow_write_stall = true;
  (void)db_->Flush(flush, handles_);
  for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  (void)db_->Close();
}

std::uint64_t epochs::fork_point(std::uint16_t e) const {
  if (e >= current) return std::numeric_limits<std::uint64_t>::max();
  // The first epoch after e that this history knows started after the fork.
  auto next = starts.upper_bound(e);
  if (next == starts.end()) return std::numeric_limits<std::uint64_t>::max();
  return next->second - 1;
}

result<epochs> read_epochs(const db_ref& db) {
  epochs out;
  std::string value;
  auto s = db.db->Get(rocksdb::ReadOptions(), cf(db, cf_meta), k_meta_epoch, &value);
  if (!s.ok() || value.size() != 2) return status(errc::corrupt, "missing or malformed epoch");
  reader r(value);
  out.current = r.u16();
  out.starts[1] = 1;
  std::unique_ptr<rocksdb::Iterator> it(
      db.db->NewIterator(rocksdb::ReadOptions(), cf(db, cf_meta)));
  const rocksdb::Slice prefix(k_meta_epoch_start.data(), k_meta_epoch_start.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    reader k(it->key().ToStringView().substr(prefix.size()));
    reader v(it->value().ToStringView());
    const auto epoch = k.u16();
    const auto start = v.u64();
    if (!k.ok() || !v.ok()) return status(errc::corrupt, "malformed epoch history record");
    out.starts[epoch] = start;
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading the epoch history");
  return out;
}

result<std::uint16_t> begin_epoch(const db_ref& db) {
  auto history = read_epochs(db);
  if (!history.ok()) return history.error();
  if (history.value().current == std::numeric_limits<std::uint16_t>::max()) {
    return status(errc::internal, "epoch counter exhausted");
  }
  const std::uint16_t epoch = history.value().current + 1;
  const std::uint64_t start = db.db->GetLatestSequenceNumber() + 1;
  rocksdb::WriteBatch batch;
  std::string v;
  put_u16(v, epoch);
  batch.Put(cf(db, cf_meta), k_meta_epoch, v);
  std::string key(k_meta_epoch_start);
  put_u16(key, epoch);
  v.clear();
  put_u64(v, start);
  batch.Put(cf(db, cf_meta), key, v);
  std::string stamp;  // the same WAL stamp as every commit: {epoch, commit_ms}
  put_u16(stamp, epoch);
  put_u64(stamp, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count()));
  batch.PutLogData(stamp);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = db.db->Write(wo, &batch); !s.ok()) return from_rocks(s, "writing the new epoch");
  return epoch;
}

result<std::map<std::string, std::string>> digests(const db_ref& db,
                                                   const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.fill_cache = false;
  std::map<std::string, std::string> out;

  // User names by id, for readable mailbox names.
  std::map<user_id, std::string> users;
  {
    std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, cf(db, cf_user)));
    const std::string tag(1, k_user_tag);
    for (it->Seek(tag); it->Valid() && it->key().starts_with(tag); it->Next()) {
      auto record = decode_user(it->value().ToStringView());
      if (record && it->key().size() == 9) {
        users[get_u64(it->key().ToStringView().substr(1))] = record->name;
      }
    }
    if (!it->status().ok()) return from_rocks(it->status(), "reading users");
  }

  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(ro, cf(db, cf_mbox)));
  const std::string tag(1, k_mailbox_tag);
  for (it->Seek(tag); it->Valid() && it->key().starts_with(tag); it->Next()) {
    if (it->key().size() != 9) return status(errc::corrupt, "malformed mailbox key");
    const mailbox_id id = get_u64(it->key().ToStringView().substr(1));
    auto record = decode_mailbox(it->value().ToStringView());
    if (!record) return status(errc::corrupt, fmt::format("mailbox {}: malformed record", id));
    sha256 h;
    h.add(it->value().ToStringView());
    const std::string prefix = mailbox_prefix(id);
    auto add_body = [&](std::string_view value) -> status {
      auto entry = decode_index(value);
      if (!entry) return status(errc::corrupt, fmt::format("mailbox {}: malformed index", id));
      std::string body;
      auto s = db.db->Get(ro, cf(db, cf_body), body_key(entry->body), &body);
      if (s.IsNotFound()) {
        h.add("(missing body)");
        return {};
      }
      if (!s.ok()) return from_rocks(s, "reading a body");
      h.add(body);
      return {};
    };
    if (auto s = hash_range(db, ro, cf_idx, prefix, h, add_body); !s.ok()) return s;
    if (auto s = hash_range(db, ro, cf_chg, prefix, h); !s.ok()) return s;
    auto owner = users.find(record->owner);
    const std::string name = fmt::format(
        "{}/{}", owner != users.end() ? owner->second : fmt::format("#{}", record->owner),
        record->name);
    out[name] = h.hex();
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading mailboxes");

  sha256 shared;
  for (auto i : {cf_meta, cf_user, cf_ref, cf_cache}) {
    if (auto s = hash_range(db, ro, i, "", shared); !s.ok()) return s;
  }
  if (auto s = hash_range(db, ro, cf_mbox, "N", shared); !s.ok()) return s;
  out["(shared)"] = shared.hex();
  return out;
}

}  // namespace packmail::storage::segment_db
