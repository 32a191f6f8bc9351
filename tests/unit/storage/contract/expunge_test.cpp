// Contract: expunge, and UIDs that are never reused (RFC 3501 2.3.1.1).
#include <string>
#include <vector>

#include "store_fixture.h"

namespace packmail::storage::test {
namespace {

TEST_CASE_METHOD(store_fixture, "expunge removes the listed UIDs that exist", "[expunge]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  append_many(inbox, 5);
  const imap_uid seen[] = {2};
  REQUIRE(store().store_flags(inbox, seen, {flag_op::add, flag_seen | flag_deleted, {}, {}}).ok());
  const mailbox_info before = mailbox(inbox);
  const std::uint32_t size_of_2 = store().get_message(inbox, 2)->size;
  const std::uint32_t size_of_4 = store().get_message(inbox, 4)->size;

  const imap_uid wanted[] = {4, 9, 2, 4};
  auto gone = store().expunge(inbox, wanted);
  REQUIRE(gone.error().to_string() == "ok");
  CHECK(*gone == std::vector<imap_uid>{2, 4});
  CHECK(uids_of(inbox) == std::vector<imap_uid>{1, 3, 5});

  const mailbox_info after = mailbox(inbox);
  CHECK(after.messages == 3);
  CHECK(after.unseen == 3);
  CHECK(after.deleted == 0);
  CHECK(after.bytes == before.bytes - size_of_2 - size_of_4);
  CHECK(after.uidnext == before.uidnext);
  CHECK(after.highest_modseq > before.highest_modseq);
  CHECK(stats().messages == 3);
  CHECK(stats().bodies == 3);

  // Nothing left to expunge: an empty result and no new modseq.
  auto again = store().expunge(inbox, wanted);
  REQUIRE(again.ok());
  CHECK(again->empty());
  CHECK(mailbox(inbox).highest_modseq == after.highest_modseq);
}

TEST_CASE_METHOD(store_fixture, "expunge of an unknown mailbox is not_found", "[expunge][errors]") {
  make_user();
  const imap_uid one[] = {1};
  CHECK(store().expunge(mailbox_id{987654321}, one).code() == errc::not_found);
}

TEST_CASE_METHOD(store_fixture, "expunged UIDs are never reused, even after reopen",
                 "[expunge][uid][reopen]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  append_many(inbox, 3);
  const imap_uid last[] = {3, 2};
  REQUIRE(store().expunge(inbox, last).ok());
  CHECK(append_one(inbox, make_message("after expunge")).uid == 4);

  const imap_uid all[] = {1, 4};
  REQUIRE(store().expunge(inbox, all).ok());
  CHECK(mailbox(inbox).messages == 0);
  CHECK(mailbox(inbox).uidnext == 5);
  reopen();
  CHECK(mailbox(inbox).uidnext == 5);
  CHECK(store().get_message(inbox, 4).code() == errc::expunged);
  CHECK(append_one(inbox, make_message("after reopen")).uid == 5);
  CHECK(uids_of(inbox) == std::vector<imap_uid>{5});
}

TEST_CASE_METHOD(store_fixture, "expunge frees the bytes of unshared bodies", "[expunge][bodies]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const std::string small = make_message("small");
  const std::string large = make_message("large", std::string(40000, 'x') + "\r\n");
  append_one(inbox, small);
  append_one(inbox, large);
  CHECK(stats().bytes == small.size() + large.size());
  const imap_uid second[] = {2};
  REQUIRE(store().expunge(inbox, second).ok());
  CHECK(stats().bodies == 1);
  CHECK(stats().bytes == small.size());
  reopen();
  CHECK(stats().bodies == 1);
  CHECK(stats().bytes == small.size());
}

}  // namespace
}  // namespace packmail::storage::test
