#include <catch2/catch.hpp>

#include "segment_test_util.h"

using namespace packmail::storage;
using namespace packmail::storage::segment;
using namespace packmail::storage::segment::test;

namespace {
std::string u32_value(std::uint32_t v) {
  std::string s;
  put_u32(s, v);
  return s;
}
}  // namespace

TEST_CASE("a new database is stamped with the current format version", "[format_version]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  { open_or_fail(options); }
  raw_db raw(options.path);
  auto schema = raw.get(cf_meta, std::string(k_meta_schema));
  REQUIRE(schema);
  CHECK(get_u32(*schema) == k_format_version);
  auto epoch = raw.get(cf_meta, std::string(k_meta_epoch));
  REQUIRE(epoch);
  CHECK(*epoch == std::string("\0\1", 2));
}

TEST_CASE("a database with a newer format version refuses to open", "[format_version]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  {
    auto store = open_or_fail(options);
    REQUIRE(store->ensure_user("alice").ok());
  }
  { raw_db(options.path).put(cf_meta, std::string(k_meta_schema), u32_value(2)); }
  auto store = open_segment_store(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.code() == errc::invalid_argument);
  CHECK_THAT(store.error().message(),
             Catch::Contains("data format version 2 is newer than this packmail (1)"));
  // Refusing must not have changed anything: restoring the stamp reopens the data.
  { raw_db(options.path).put(cf_meta, std::string(k_meta_schema), u32_value(1)); }
  auto again = open_or_fail(options);
  CHECK(again->find_user("alice").ok());
}

TEST_CASE("a database holding data but no format version is corrupt", "[format_version]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  {
    auto store = open_or_fail(options);
    REQUIRE(store->ensure_user("alice").ok());
  }
  {
    raw_db raw(options.path);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    REQUIRE(raw.db()->Delete(wo, raw.cf(cf_meta), std::string(k_meta_schema)).ok());
  }
  auto store = open_segment_store(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.code() == errc::corrupt);
  CHECK_THAT(store.error().message(), Catch::Contains("no schema version"));
}

TEST_CASE("a RocksDB database without packmail's column families refuses to open",
          "[format_version]") {
  temp_dir dir;
  auto path = dir.path() / "foreign";
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(o, path.string(), &db).ok());
    REQUIRE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
  }
  segment_options options;
  options.path = path;
  auto store = open_segment_store(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.code() == errc::corrupt);
  CHECK_THAT(store.error().message(), Catch::Contains("column family \"meta\" is missing"));
}
