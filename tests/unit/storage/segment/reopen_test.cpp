#include <catch2/catch.hpp>

#include "segment_test_util.h"

using namespace packmail::storage;
using namespace packmail::storage::segment;
using namespace packmail::storage::segment::test;

TEST_CASE("everything committed survives a reopen", "[reopen]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  user_id user = 0;
  mailbox_info work;
  std::vector<message_info> before;
  modseq_t highest = 0;
  {
    auto store = open_or_fail(options);
    user = *store->ensure_user("Dave");
    work = *store->create_mailbox(user, "Work/Projects", use_flagged);
    REQUIRE(store->set_subscribed(user, "Work/Projects", true).ok());
    for (int i = 0; i < 5; ++i) {
      append_request r;
      std::string m = make_message(i, 300);
      r.message = m;
      r.internal_date = 1700000000 + i;
      r.tz_offset = 60;
      r.targets = {{work.id, flag_seen, {"Urgent"}, "Delivered-To: dave\r\n"}};
      REQUIRE(store->append(r).ok());
    }
    imap_uid two[] = {2};
    flag_change fc;
    fc.op = flag_op::add;
    fc.flags = flag_flagged;
    fc.keywords = {"$Label1"};
    REQUIRE(store->store_flags(work.id, two, fc)->changed.size() == 1);
    imap_uid three[] = {3};
    REQUIRE(store->expunge(work.id, three)->size() == 1);
    before = *store->list_messages(work.id);
    highest = store->get_mailbox(work.id)->highest_modseq;
  }
  auto store = open_or_fail(options);
  CHECK(*store->find_user("dave") == user);
  auto info = store->get_mailbox(user, "Work/Projects");
  REQUIRE(info.ok());
  CHECK(info->id == work.id);
  CHECK(info->uidvalidity == work.uidvalidity);
  CHECK(info->uidnext == 6);
  CHECK(info->messages == 4);
  CHECK(info->unseen == 0);
  CHECK(info->highest_modseq == highest);
  CHECK(info->special_use == use_flagged);
  CHECK(store->list_subscriptions(user)->size() == 1);
  auto after = *store->list_messages(work.id);
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].uid == before[i].uid);
    CHECK(after[i].modseq == before[i].modseq);
    CHECK(after[i].flags == before[i].flags);
    CHECK(after[i].keywords == before[i].keywords);
    CHECK(after[i].internal_date == before[i].internal_date);
    CHECK(after[i].tz_offset == 60);
    CHECK(after[i].size == before[i].size);
  }
  CHECK(store->get_message(work.id, 3).code() == errc::expunged);
  CHECK(*store->read_message(work.id, 4) == "Delivered-To: dave\r\n" + make_message(3, 300));
  auto changes = *store->changes_since(work.id, 0);
  CHECK(changes.size() == 7);  // 5 appends, 1 flag change, 1 expunge
  CHECK(changes.back().kind == change_kind::expunge);
  // MODSEQ = (epoch << 40) | counter, epoch 1.
  CHECK((highest >> 40) == 1);

  append_request r;
  std::string m = make_message(9, 10);
  r.message = m;
  r.targets = {{work.id, 0, {}, ""}};
  auto a = store->append(r);
  REQUIRE(a.ok());
  CHECK(a->front().uid == 6);
  CHECK(a->front().modseq > highest);
}

TEST_CASE("ids are never reused across reopens, even after everything is deleted", "[reopen]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  body_id first_body{};
  mailbox_info old;
  user_id user = 0;
  {
    auto store = open_or_fail(options);
    user = *store->ensure_user("erin");
    old = *store->create_mailbox(user, "Temp", 0);
    append_request r;
    std::string m = make_message(1, 10);
    r.message = m;
    r.targets = {{old.id, 0, {}, ""}};
    REQUIRE(store->append(r).ok());
    first_body = store->get_message(old.id, 1)->body;
    REQUIRE(store->delete_mailbox(user, "Temp").ok());
    CHECK(store->stats()->bodies == 0);
  }
  auto store = open_or_fail(options);
  auto again = store->create_mailbox(user, "Temp", 0);
  REQUIRE(again.ok());
  CHECK(again->id > old.id);
  CHECK(again->uidvalidity > old.uidvalidity);
  append_request r;
  std::string m = make_message(2, 10);
  r.message = m;
  r.targets = {{again->id, 0, {}, ""}};
  REQUIRE(store->append(r).ok());
  auto body = store->get_message(again->id, 1)->body;
  CHECK(body_key(body) > body_key(first_body));
  auto other = store->ensure_user("frank");
  CHECK(*other > user);
}
