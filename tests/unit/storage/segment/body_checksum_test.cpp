// Each corruption case of the body record (docs/storage-format.md, "What is
// checked on read") has a test named for it: the read reports corrupt with a
// clear message, never wrong bytes, and the other messages stay readable.
#include <rocksdb/metadata.h>
#include <catch2/catch.hpp>

#include <fstream>

#include "body_codec.h"
#include "segment_test_util.h"

using namespace packmail::storage;
using namespace packmail::storage::segment;
using namespace packmail::storage::segment::test;

namespace {

struct fixture {
  temp_dir dir;
  segment_options options = test_options(dir.path());
  mailbox_id inbox = 0;
  std::vector<std::string> messages;
  std::vector<body_id> bodies;

  fixture() {
    auto store = open_or_fail(options);
    auto user = store->ensure_user("carol");
    REQUIRE(user.ok());
    inbox = store->get_mailbox(*user, "INBOX")->id;
    for (int i = 1; i <= 3; ++i) {
      messages.push_back(make_message(i, 500));
      append_request r;
      r.message = messages.back();
      r.targets.push_back({inbox, 0, {}, ""});
      auto a = store->append(r);
      REQUIRE(a.ok());
      REQUIRE(a->front().uid == static_cast<imap_uid>(i));
      bodies.push_back(store->get_message(inbox, i)->body);
    }
  }

  // Replaces message 2's stored body record with `f(record)`.
  template <class F>
  void rewrite_body_2(F f) {
    raw_db raw(options.path);
    auto record = raw.get(cf_body, body_key(bodies[1]));
    REQUIRE(record);
    raw.put(cf_body, body_key(bodies[1]), f(*record));
  }

  void expect_only_2_corrupt(std::string_view what) {
    auto store = open_or_fail(options);
    auto bad = store->read_message(inbox, 2);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.code() == errc::corrupt);
    CHECK_THAT(bad.error().message(), Catch::Contains(std::string(what)));
    CHECK_THAT(bad.error().message(), Catch::Contains("UID 2"));
    // A partial read is verified too.
    CHECK(store->read_message(inbox, 2, 0, 10).code() == errc::corrupt);
    CHECK(*store->read_message(inbox, 1) == messages[0]);
    CHECK(*store->read_message(inbox, 3) == messages[2]);
    CHECK(store->list_messages(inbox)->size() == 3);
  }
};

}  // namespace

TEST_CASE("body record: a flipped payload byte is a checksum mismatch", "[body_checksum]") {
  fixture f;
  f.rewrite_body_2([](std::string r) {
    r[r.size() / 2] ^= 0x01;
    return r;
  });
  f.expect_only_2_corrupt("checksum mismatch");
}

TEST_CASE("body record: a truncated record is reported", "[body_checksum]") {
  fixture f;
  f.rewrite_body_2([](std::string r) { return r.substr(0, 10); });
  f.expect_only_2_corrupt("truncated");
}

TEST_CASE("body record: a record shortened after the header is a length mismatch",
          "[body_checksum]") {
  fixture f;
  f.rewrite_body_2([](std::string r) { return r.substr(0, r.size() - 1); });
  f.expect_only_2_corrupt("length mismatch");
}

TEST_CASE("body record: another body's record under this key is misdirected", "[body_checksum]") {
  fixture f;
  std::string other;
  {
    raw_db raw(f.options.path);
    other = *raw.get(cf_body, body_key(f.bodies[0]));
  }
  f.rewrite_body_2([&](std::string) { return other; });
  f.expect_only_2_corrupt("another body id");
}

TEST_CASE("body record: an unknown record version is reported", "[body_checksum]") {
  fixture f;
  f.rewrite_body_2([](std::string r) {
    r[0] = 9;
    return r;
  });
  f.expect_only_2_corrupt("unknown body record version 9");
}

TEST_CASE("body record: a missing body is reported", "[body_checksum]") {
  fixture f;
  {
    raw_db raw(f.options.path);
    REQUIRE(raw.db()->Delete(rocksdb::WriteOptions(), raw.cf(cf_body), body_key(f.bodies[1])).ok());
  }
  f.expect_only_2_corrupt("missing");
}

TEST_CASE("body record: codec round trip and checksum coverage", "[body_checksum]") {
  auto id = make_body_id(1, 123, 4);
  std::string raw = "Subject: x\r\n\r\nhello";
  auto rec = encode_body(id, raw);
  REQUIRE(rec.size() == k_body_header_size + raw.size());
  auto back = decode_body(id, rec);
  REQUIRE(back.ok());
  CHECK(*back == raw);
  // Every single-bit flip anywhere in the record is caught.
  for (std::size_t i = 0; i < rec.size(); ++i) {
    std::string bad = rec;
    bad[i] ^= 0x10;
    REQUIRE(decode_body(id, bad).code() == errc::corrupt);
  }
  CHECK(decode_body(make_body_id(1, 123, 5), rec).code() == errc::corrupt);
}

TEST_CASE("body record: damaged SST bytes are reported as corrupt, not a crash",
          "[body_checksum]") {
  fixture f;
  std::string sst;
  {
    raw_db raw(f.options.path);
    REQUIRE(raw.db()->Flush(rocksdb::FlushOptions(), raw.cf(cf_body)).ok());
    std::vector<rocksdb::LiveFileMetaData> files;
    raw.db()->GetLiveFilesMetaData(&files);
    for (const auto& m : files) {
      if (m.column_family_name == "body") sst = m.db_path + m.name;
    }
  }
  REQUIRE(!sst.empty());
  {
    // The first data block starts at offset 0: damage it.
    std::fstream file(sst, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(file);
    file.seekp(20);
    char bytes[8] = {'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X'};
    file.write(bytes, sizeof bytes);
  }
  // One damaged block must not keep the whole shard offline.
  auto store = open_segment_store(f.options);
  INFO(store.error().to_string());
  REQUIRE(store.ok());
  auto read = (*store)->read_message(f.inbox, 2);
  REQUIRE_FALSE(read.ok());
  CHECK(read.code() == errc::corrupt);
  CHECK((*store)->list_messages(f.inbox).ok());
}
