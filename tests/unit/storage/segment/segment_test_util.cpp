#include "segment_test_util.h"

#include <stdlib.h>

#include <rocksdb/iterator.h>
#include <catch2/catch.hpp>

#include "options.h"

namespace packmail::storage::segment::test {

temp_dir::temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "packmail-segment-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

segment_options test_options(const std::filesystem::path& path) {
  segment_options o;
  o.path = path / "db";
  o.block_cache_bytes = 8 << 20;
  return o;
}

std::unique_ptr<mail_store> open_or_fail(const segment_options& options) {
  auto store = open_segment_store(options);
  INFO(store.error().to_string());
  REQUIRE(store.ok());
  return std::move(store).value();
}

raw_db::raw_db(const std::filesystem::path& path) {
  segment_options o;
  o.path = path;
  auto db_options = make_db_options(o);
  db_options.create_if_missing = false;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, path.string(), make_cf_descriptors(o), &handles_, &raw);
  INFO(s.ToString());
  REQUIRE(s.ok());
  db_.reset(raw);
}

raw_db::~raw_db() {
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  (void)db_->Close();
}

void raw_db::put(cf_index i, const std::string& key, const std::string& value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  REQUIRE(db_->Put(wo, cf(i), key, value).ok());
}

std::optional<std::string> raw_db::get(cf_index i, const std::string& key) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(i), key, &value);
  if (s.IsNotFound()) return std::nullopt;
  REQUIRE(s.ok());
  return value;
}

std::vector<std::pair<std::string, std::string>> raw_db::scan(cf_index i) {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;  // idx/chg have a prefix extractor
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(i)));
  std::vector<std::pair<std::string, std::string>> out;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  REQUIRE(it->status().ok());
  return out;
}

std::string make_message(int seq, std::size_t body_bytes) {
  std::string m = "X-Seq: " + std::to_string(seq) +
                  "\r\nFrom: a@example.org\r\nTo: b@example.org\r\nSubject: test " +
                  std::to_string(seq) + "\r\n\r\n";
  for (std::size_t i = 0; i < body_bytes; ++i) {
    m.push_back(i % 64 == 63 ? '\n' : static_cast<char>('a' + (seq * 31 + i * 7) % 26));
  }
  return m;
}

}  // namespace packmail::storage::segment::test
