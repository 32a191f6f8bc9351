#include <catch2/catch.hpp>

#include "keys.h"

using namespace packmail::storage;
using namespace packmail::storage::segment;

TEST_CASE("index keys sort by mailbox then numeric UID", "[keys]") {
  CHECK(index_key(1, 2) < index_key(1, 256));
  CHECK(index_key(1, 0xFFFFFFFF) < index_key(2, 0));
  CHECK(index_key(7, 42).size() == 12);
  CHECK(index_key_uid(index_key(7, 42)) == 42);
  CHECK(change_key(3, 1, 9) < change_key(3, 2, 0));
  CHECK(change_key(3, 5, 1).substr(0, 8) == mailbox_prefix(3));
}

TEST_CASE("body ids are time ordered", "[keys]") {
  auto a = make_body_id(1, 1000, 5);
  auto b = make_body_id(1, 1001, 0);
  CHECK(body_key(a) < body_key(b));
  CHECK(body_id_ms(a) == 1000);
  CHECK(body_id_counter(a) == 5);
  CHECK(body_key(make_body_id(2, 0, 0)) > body_key(b));  // epoch first
}

// Every field gets a value of its own (no two equal, none the default), so a
// field the codec drops or swaps with another fails the comparison.
TEST_CASE("records round-trip every field and reject malformed bytes", "[keys]") {
  user_record u;
  u.name = "carol";
  u.state = 2;
  u.quota = (1ull << 35) | 11;
  u.last_uidvalidity = 1700000013;
  auto user_back = decode_user(encode(u));
  REQUIRE(user_back);
  CHECK(*user_back == u);
  CHECK_FALSE(decode_user(encode(u).substr(0, 10)));

  mailbox_record m;
  m.owner = 9;
  m.name = "a/b";
  m.uidvalidity = 77;
  m.uidnext = 5;
  m.uid_epoch = 3;
  m.highest_modseq = (1ull << 40) | 6;
  m.messages = 4;
  m.unseen = 2;
  m.deleted = 1;
  m.bytes = 1234;
  m.special_use = use_junk;
  m.chg_floor = (1ull << 40) | 8;
  auto back = decode_mailbox(encode(m));
  REQUIRE(back);
  CHECK(*back == m);
  CHECK_FALSE(decode_mailbox(encode(m).substr(0, 20)));

  index_entry e;
  e.body = make_body_id(1, 2, 3);
  e.modseq = 17;
  e.internal_date = -5;
  e.tz_offset = -120;
  e.size = 99;
  e.flags = flag_seen | flag_draft;
  e.prefix = "Delivered-To: x\r\n";
  e.keywords = {"$Forwarded", "Work"};
  auto ie = decode_index(encode(e));
  REQUIRE(ie);
  CHECK(*ie == e);
  auto bytes = encode(e);
  CHECK_FALSE(decode_index(bytes + "x"));
  CHECK_FALSE(decode_index(bytes.substr(0, bytes.size() - 1)));

  const ref_record ref{3, 800};
  auto r = decode_ref(encode(ref));
  REQUIRE(r);
  CHECK(*r == ref);
}
