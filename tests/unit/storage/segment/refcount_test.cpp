// One body per delivery, shared by every recipient and copy; freed (body
// SingleDeleted, ref and cache deleted) in the batch that drops the last
// reference (STORAGE-REPLICATION.md section 7, "Dedup by id").
#include <catch2/catch.hpp>

#include "segment_test_util.h"

using namespace packmail::storage;
using namespace packmail::storage::segment;
using namespace packmail::storage::segment::test;

namespace {
std::uint32_t refcount(const segment_options& options, const body_id& id) {
  raw_db raw(options.path);
  auto v = raw.get(cf_ref, body_key(id));
  if (!v) return 0;
  auto r = decode_ref(*v);
  REQUIRE(r);
  return r->refcount;
}
bool body_present(const segment_options& options, const body_id& id) {
  raw_db raw(options.path);
  return raw.get(cf_body, body_key(id)).has_value() && raw.get(cf_cache, cache_key(id)).has_value();
}
}  // namespace

TEST_CASE("one body is shared by recipients and copies and freed at zero", "[refcount]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  const std::string message = make_message(1, 2000);
  body_id body{};
  mailbox_id a = 0, b = 0, c = 0, archive = 0;
  {
    auto store = open_or_fail(options);
    auto ua = *store->ensure_user("a");
    auto ub = *store->ensure_user("b");
    auto uc = *store->ensure_user("c");
    a = store->get_mailbox(ua, "INBOX")->id;
    b = store->get_mailbox(ub, "INBOX")->id;
    c = store->get_mailbox(uc, "INBOX")->id;
    archive = store->get_mailbox(ua, "Archive")->id;
    append_request r;
    r.message = message;
    r.targets = {{a, 0, {}, "Delivered-To: a\r\n"},
                 {b, 0, {}, "Delivered-To: b\r\n"},
                 {c, 0, {}, "Delivered-To: c\r\n"}};
    auto appended = store->append(r);
    REQUIRE(appended.ok());
    REQUIRE(appended->size() == 3);
    body = store->get_message(a, 1)->body;
    CHECK(store->get_message(b, 1)->body == body);
    CHECK(*store->read_message(b, 1) == "Delivered-To: b\r\n" + message);
    auto s = *store->stats();
    CHECK(s.bodies == 1);
    CHECK(s.bytes == message.size());
    CHECK(s.messages == 3);
  }
  CHECK(refcount(options, body) == 3);
  {
    auto store = open_or_fail(options);
    imap_uid one[] = {1};
    REQUIRE(store->copy(a, one, archive, false).ok());  // +1
    REQUIRE(store->copy(b, one, b, false).ok());        // +1, same mailbox
    auto moved = store->copy(c, one, archive, true);    // +0
    REQUIRE(moved.ok());
    CHECK(store->stats()->bodies == 1);
    CHECK(store->list_messages(c)->empty());
  }
  CHECK(refcount(options, body) == 5);
  {
    auto store = open_or_fail(options);
    imap_uid one[] = {1};
    imap_uid both[] = {1, 2};
    CHECK(store->expunge(a, one)->size() == 1);
    CHECK(store->expunge(b, both)->size() == 2);
    // The archive still holds two references and reads the shared bytes.
    CHECK(*store->read_message(archive, 2) == "Delivered-To: c\r\n" + message);
  }
  CHECK(refcount(options, body) == 2);
  CHECK(body_present(options, body));
  {
    auto store = open_or_fail(options);
    imap_uid uids[] = {1, 2};
    CHECK(store->expunge(archive, uids)->size() == 2);
    auto s = *store->stats();
    CHECK(s.bodies == 0);
    CHECK(s.bytes == 0);
    CHECK(s.messages == 0);
  }
  CHECK(refcount(options, body) == 0);
  CHECK_FALSE(body_present(options, body));
}

TEST_CASE("deleting a mailbox releases its references", "[refcount]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  auto store = open_or_fail(options);
  auto user = *store->ensure_user("d");
  auto inbox = store->get_mailbox(user, "INBOX")->id;
  auto folder = *store->create_mailbox(user, "Folder", 0);
  std::string m1 = make_message(1, 100), m2 = make_message(2, 100);
  append_request r1;
  r1.message = m1;
  r1.targets = {{inbox, 0, {}, ""}, {folder.id, 0, {}, ""}};
  REQUIRE(store->append(r1).ok());
  append_request r2;
  r2.message = m2;
  r2.targets = {{folder.id, 0, {}, ""}};
  REQUIRE(store->append(r2).ok());
  CHECK(store->stats()->bodies == 2);
  REQUIRE(store->delete_mailbox(user, "Folder").ok());
  auto s = *store->stats();
  CHECK(s.bodies == 1);
  CHECK(s.bytes == m1.size());
  CHECK(*store->read_message(inbox, 1) == m1);
  CHECK(store->get_mailbox(folder.id).code() == errc::not_found);
}

TEST_CASE("a large body goes to a blob file and reads back verified", "[refcount]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  options.min_blob_size = 4096;
  std::string big = make_message(7, 100000);
  mailbox_id inbox = 0;
  {
    auto store = open_or_fail(options);
    auto user = *store->ensure_user("e");
    inbox = store->get_mailbox(user, "INBOX")->id;
    append_request r;
    r.message = big;
    r.targets = {{inbox, 0, {}, ""}};
    REQUIRE(store->append(r).ok());
  }
  {
    raw_db raw(options.path);
    REQUIRE(raw.db()->Flush(rocksdb::FlushOptions(), raw.cf(cf_body)).ok());
  }
  bool has_blob = false;
  for (const auto& e : std::filesystem::directory_iterator(options.path)) {
    has_blob |= e.path().extension() == ".blob";
  }
  CHECK(has_blob);
  auto store = open_or_fail(options);
  CHECK(*store->read_message(inbox, 1) == big);
  CHECK(*store->read_message(inbox, 1, 50000, 10) == big.substr(50000, 10));
}
