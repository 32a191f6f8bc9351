#include <catch2/catch.hpp>
#include <filesystem>
#include <limits>

#include "packmail/replication/replication.h"
#include "packmail/storage/segment_replication.h"

using namespace packmail::storage;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/packmail-epochs-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

appended deliver(mail_store& store, user_id user) {
  auto inbox = store.get_mailbox(user, "INBOX");
  REQUIRE(inbox.ok());
  append_request req;
  req.message = "Subject: hi\r\n\r\nhello\r\n";
  append_target target;
  target.mailbox = inbox.value().id;
  req.targets.push_back(target);
  auto r = store.append(req);
  REQUIRE(r.ok());
  return r.value().front();
}

}  // namespace

TEST_CASE("a promotion starts a new epoch at the next sequence", "[epochs]") {
  temp_dir dir;
  const segment_options options{.path = dir.path / "db", .sync = false};
  std::uint64_t before = 0;
  {
    auto store = open_segment_store(options);
    REQUIRE(store.ok());
    auto user = store.value()->ensure_user("alice");
    REQUIRE(user.ok());
    deliver(*store.value(), user.value());
    const auto db = segment_db::of_store(*store.value());
    REQUIRE(db);
    before = db.db->GetLatestSequenceNumber();
    auto e = segment_db::read_epochs(db);
    REQUIRE(e.ok());
    CHECK(e.value().current == 1);
    CHECK(e.value().fork_point(1) == std::numeric_limits<std::uint64_t>::max());
  }
  auto promoted = packmail::replication::promote_offline(options);
  REQUIRE(promoted.ok());
  CHECK(promoted.value() == 2);

  auto store = open_segment_store(options);
  REQUIRE(store.ok());
  const auto db = segment_db::of_store(*store.value());
  auto e = segment_db::read_epochs(db);
  REQUIRE(e.ok());
  CHECK(e.value().current == 2);
  CHECK(e.value().starts.at(2) == before + 1);
  // A node that stopped in epoch 1 shares everything up to `before`.
  CHECK(e.value().fork_point(1) == before);
  CHECK(e.value().fork_point(2) == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("digests change with the data and are stable without changes", "[epochs]") {
  temp_dir dir;
  auto store = open_segment_store({.path = dir.path / "db", .sync = false});
  REQUIRE(store.ok());
  auto user = store.value()->ensure_user("alice");
  REQUIRE(user.ok());
  const auto db = segment_db::of_store(*store.value());
  auto first = segment_db::digests(db, nullptr);
  REQUIRE(first.ok());
  CHECK(first.value().count("alice/INBOX") == 1);
  CHECK(first.value().count("(shared)") == 1);
  auto again = segment_db::digests(db, nullptr);
  REQUIRE(again.ok());
  CHECK(again.value() == first.value());

  const auto m = deliver(*store.value(), user.value());
  auto delivered = segment_db::digests(db, nullptr);
  REQUIRE(delivered.ok());
  CHECK(delivered.value().at("alice/INBOX") != first.value().at("alice/INBOX"));

  const imap_uid uids[] = {m.uid};
  flag_change seen;
  seen.flags = flag_seen;
  REQUIRE(store.value()->store_flags(m.mailbox, uids, seen).ok());
  auto flagged = segment_db::digests(db, nullptr);
  REQUIRE(flagged.ok());
  CHECK(flagged.value().at("alice/INBOX") != delivered.value().at("alice/INBOX"));
}
