// Contract: COPY and MOVE share bodies, keep metadata, and count references.
#include <string>
#include <vector>

#include "store_fixture.h"

namespace packmail::storage::test {
namespace {

struct two_mailboxes : store_fixture {
  user_id alice = make_user();
  mailbox_info source = make_mailbox(alice, "source");
  mailbox_info dest = make_mailbox(alice, "dest");
};

TEST_CASE_METHOD(two_mailboxes, "copy adds the existing UIDs to the destination, sharing bodies",
                 "[copy][bodies]") {
  append_one(source.id, make_message("1"), flag_seen, {"$A"}, "Delivered-To: one\r\n");
  append_one(source.id, make_message("2"));
  append_one(source.id, make_message("3"), flag_flagged | flag_deleted, {"$B", "$C"});
  append_one(source.id, make_message("4"));
  const imap_uid expunged[] = {2};
  REQUIRE(store().expunge(source.id, expunged).ok());
  append_one(dest.id, make_message("already there"));
  const store_stats before = stats();

  // Unordered, duplicated, expunged (2) and never-assigned (99) UIDs.
  const imap_uid wanted[] = {4, 1, 99, 3, 2, 1};
  auto copied = store().copy(source.id, wanted, dest.id, false);
  REQUIRE(copied.error().to_string() == "ok");
  CHECK(copied->uidvalidity == dest.uidvalidity);
  using pair = std::pair<imap_uid, imap_uid>;
  CHECK(copied->uids == std::vector<pair>{{1, 2}, {3, 3}, {4, 4}});

  const store_stats after = stats();
  CHECK(after.bodies == before.bodies);
  CHECK(after.bytes == before.bytes);
  CHECK(after.messages == before.messages + 3);

  for (const auto& [from_uid, to_uid] : copied->uids) {
    INFO("source UID " << from_uid);
    auto original = store().get_message(source.id, from_uid);
    auto copy = store().get_message(dest.id, to_uid);
    REQUIRE((original.ok() && copy.ok()));
    CHECK(copy->uid == to_uid);
    CHECK(copy->body == original->body);
    CHECK(copy->flags == original->flags);
    CHECK(copy->keywords == original->keywords);
    CHECK(copy->internal_date == original->internal_date);
    CHECK(copy->size == original->size);
    CHECK(copy->prefix_size == original->prefix_size);
    CHECK(read_all(dest.id, to_uid) == read_all(source.id, from_uid));
  }
  // The source is untouched.
  CHECK(uids_of(source.id) == std::vector<imap_uid>{1, 3, 4});
  const mailbox_info d = mailbox(dest.id);
  CHECK(d.messages == 4);
  CHECK(d.uidnext == 5);
  CHECK(d.unseen == 3);
  CHECK(d.deleted == 1);
  CHECK(d.bytes == mailbox(source.id).bytes + store().get_message(dest.id, 1)->size);
}

TEST_CASE_METHOD(two_mailboxes, "move expunges from the source in the same commit",
                 "[copy][move]") {
  append_many(source.id, 3);
  const store_stats before = stats();
  const modseq_t source_modseq = mailbox(source.id).highest_modseq;
  const imap_uid wanted[] = {1, 3};
  auto moved = store().copy(source.id, wanted, dest.id, true);
  REQUIRE(moved.error().to_string() == "ok");
  using pair = std::pair<imap_uid, imap_uid>;
  CHECK(moved->uids == std::vector<pair>{{1, 1}, {3, 2}});
  CHECK(uids_of(source.id) == std::vector<imap_uid>{2});
  CHECK(uids_of(dest.id) == std::vector<imap_uid>{1, 2});
  CHECK(store().get_message(source.id, 1).code() == errc::expunged);

  const store_stats after = stats();
  CHECK(after.bodies == before.bodies);
  CHECK(after.messages == before.messages);
  CHECK(mailbox(source.id).messages == 1);
  CHECK(mailbox(dest.id).messages == 2);

  // The source journals expunges and the destination appends, each with a
  // new modseq of its own mailbox.
  const modseq_t dest_modseq = mailbox(dest.id).highest_modseq;
  auto source_changes = store().changes_since(source.id, source_modseq);
  auto dest_changes = store().changes_since(dest.id, 0);
  REQUIRE((source_changes.ok() && dest_changes.ok()));
  REQUIRE(source_changes->size() == 2);
  REQUIRE(dest_changes->size() == 2);
  CHECK((*source_changes)[0].kind == change_kind::expunge);
  CHECK((*source_changes)[0].uid == 1);
  CHECK((*source_changes)[1].kind == change_kind::expunge);
  CHECK((*source_changes)[1].uid == 3);
  CHECK((*source_changes)[0].modseq > source_modseq);
  CHECK((*source_changes)[1].modseq == (*source_changes)[0].modseq);  // one call, one modseq
  CHECK(mailbox(source.id).highest_modseq == (*source_changes)[0].modseq);
  CHECK((*dest_changes)[0].kind == change_kind::append);
  CHECK((*dest_changes)[0].uid == 1);
  CHECK((*dest_changes)[1].uid == 2);
  CHECK((*dest_changes)[1].modseq == dest_modseq);
  CHECK(store().get_message(dest.id, 2)->modseq == dest_modseq);
}

TEST_CASE_METHOD(two_mailboxes, "copy and move errors", "[copy][errors]") {
  append_many(source.id, 1);
  const imap_uid one[] = {1};
  CHECK(store().copy(source.id, one, mailbox_id{987654321}, false).code() == errc::try_create);
  CHECK(store().copy(source.id, one, mailbox_id{987654321}, true).code() == errc::try_create);
  CHECK(uids_of(source.id) == std::vector<imap_uid>{1});
  CHECK(store().copy(mailbox_id{987654321}, one, dest.id, false).code() == errc::not_found);
  REQUIRE(store().delete_mailbox(alice, "dest").ok());
  CHECK(store().copy(source.id, one, dest.id, true).code() == errc::try_create);
  CHECK(uids_of(source.id) == std::vector<imap_uid>{1});
}

TEST_CASE_METHOD(two_mailboxes, "copying nothing that exists succeeds with no UIDs", "[copy]") {
  append_many(source.id, 1);
  const imap_uid none[] = {5, 6};
  auto copied = store().copy(source.id, none, dest.id, false);
  REQUIRE(copied.ok());
  CHECK(copied->uids.empty());
  CHECK(copied->uidvalidity == dest.uidvalidity);
  CHECK(mailbox(dest.id).uidnext == 1);
}

TEST_CASE_METHOD(two_mailboxes, "a body lives until its last reference is expunged",
                 "[copy][bodies][expunge]") {
  const mailbox_info third = make_mailbox(alice, "third");
  const std::string message = make_message("shared");
  const appended a = append_one(source.id, message);
  const imap_uid one[] = {a.uid};
  auto to_dest = store().copy(source.id, one, dest.id, false);
  auto to_third = store().copy(source.id, one, third.id, false);
  REQUIRE((to_dest.ok() && to_third.ok()));
  CHECK(stats().bodies == 1);
  CHECK(stats().messages == 3);

  REQUIRE(store().expunge(source.id, one).ok());
  CHECK(stats().bodies == 1);
  CHECK(read_all(dest.id, to_dest->uids[0].second) == message);

  const imap_uid dest_uid[] = {to_dest->uids[0].second};
  REQUIRE(store().expunge(dest.id, dest_uid).ok());
  CHECK(stats().bodies == 1);
  CHECK(stats().bytes == message.size());
  reopen();
  CHECK(stats().bodies == 1);
  CHECK(read_all(third.id, to_third->uids[0].second) == message);

  // Expunging the last reference frees the body.
  const imap_uid third_uid[] = {to_third->uids[0].second};
  REQUIRE(store().expunge(third.id, third_uid).ok());
  const store_stats s = stats();
  CHECK(s.bodies == 0);
  CHECK(s.bytes == 0);
  CHECK(s.messages == 0);
}

TEST_CASE_METHOD(two_mailboxes, "deleting a mailbox drops its references to shared bodies",
                 "[copy][bodies]") {
  const appended a = append_one(source.id, make_message("shared"));
  const imap_uid one[] = {a.uid};
  REQUIRE(store().copy(source.id, one, dest.id, false).ok());
  REQUIRE(store().delete_mailbox(alice, "source").ok());
  CHECK(stats().bodies == 1);
  CHECK(read_all(dest.id, 1) == make_message("shared"));
  REQUIRE(store().delete_mailbox(alice, "dest").ok());
  CHECK(stats().bodies == 0);
  CHECK(stats().bytes == 0);
  CHECK(stats().messages == 0);
}

TEST_CASE_METHOD(two_mailboxes, "moved messages keep their body and flags across reopen",
                 "[copy][move][reopen]") {
  append_one(source.id, make_message("m"), flag_answered, {"$Done"}, "Delivered-To: d\r\n");
  const std::string bytes = read_all(source.id, 1);
  const imap_uid one[] = {1};
  REQUIRE(store().copy(source.id, one, dest.id, true).ok());
  reopen();
  auto moved = store().get_message(dest.id, 1);
  REQUIRE(moved.ok());
  CHECK(moved->flags == flag_answered);
  CHECK(moved->keywords == std::vector<std::string>{"$Done"});
  CHECK(read_all(dest.id, 1) == bytes);
  CHECK(stats().bodies == 1);
  CHECK(stats().messages == 1);
  CHECK(mailbox(source.id).uidnext == 2);
}

}  // namespace
}  // namespace packmail::storage::test
