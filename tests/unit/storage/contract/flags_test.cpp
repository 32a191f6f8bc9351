// Contract: store_flags with add/remove/replace, keywords, UNCHANGEDSINCE.
#include <string>
#include <vector>

#include "store_fixture.h"

namespace packmail::storage::test {
namespace {

struct three_messages : store_fixture {
  mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  std::vector<imap_uid> uids = append_many(inbox, 3);
  const imap_uid all[3] = {1, 2, 3};

  flag_result store_flags(std::span<const imap_uid> which, flag_change change) {
    auto done = store().store_flags(inbox, which, change);
    REQUIRE(done.error().to_string() == "ok");
    return *done;
  }
  message_info message(imap_uid uid) {
    auto info = store().get_message(inbox, uid);
    REQUIRE(info.ok());
    return *info;
  }
};

std::vector<imap_uid> uids_in(const std::vector<message_info>& messages) {
  std::vector<imap_uid> out;
  for (const auto& m : messages) out.push_back(m.uid);
  return out;
}

TEST_CASE_METHOD(three_messages, "add, remove and replace flags and keywords", "[flags]") {
  const modseq_t start = mailbox(inbox).highest_modseq;

  const imap_uid first_two[] = {1, 2};
  flag_result added = store_flags(first_two, {flag_op::add, flag_seen, {"$B", "$A", "$B"}, {}});
  REQUIRE(uids_in(added.changed) == std::vector<imap_uid>{1, 2});
  CHECK(added.modified.empty());
  const modseq_t m1 = added.changed[0].modseq;
  CHECK(m1 > start);
  CHECK(added.changed[1].modseq == m1);  // one modseq for the whole call
  CHECK(added.changed[0].flags == flag_seen);
  CHECK(added.changed[0].keywords == std::vector<std::string>{"$A", "$B"});
  CHECK(message(1).flags == flag_seen);
  CHECK(message(1).modseq == m1);
  CHECK(message(3).flags == 0);
  CHECK(mailbox(inbox).unseen == 1);
  CHECK(mailbox(inbox).highest_modseq == m1);

  flag_result removed = store_flags(all, {flag_op::remove, flag_seen, {"$A"}, {}});
  REQUIRE(uids_in(removed.changed) == std::vector<imap_uid>{1, 2});  // 3 had nothing to remove
  CHECK(removed.changed[0].modseq > m1);
  CHECK(message(1).keywords == std::vector<std::string>{"$B"});
  CHECK(message(1).flags == 0);
  CHECK(message(3).modseq < m1);
  CHECK(mailbox(inbox).unseen == 3);

  flag_result replaced =
      store_flags(all, {flag_op::replace, flag_deleted | flag_answered, {"$C"}, {}});
  REQUIRE(uids_in(replaced.changed) == std::vector<imap_uid>{1, 2, 3});
  for (imap_uid uid : all) {
    CHECK(message(uid).flags == (flag_deleted | flag_answered));
    CHECK(message(uid).keywords == std::vector<std::string>{"$C"});
  }
  CHECK(mailbox(inbox).deleted == 3);
  CHECK(mailbox(inbox).unseen == 3);

  flag_result cleared = store_flags(all, {flag_op::replace, 0, {}, {}});
  CHECK(cleared.changed.size() == 3);
  CHECK(message(2).flags == 0);
  CHECK(message(2).keywords.empty());
  CHECK(mailbox(inbox).deleted == 0);
}

TEST_CASE_METHOD(three_messages, "messages already in the wanted state get no new modseq",
                 "[flags][modseq]") {
  const imap_uid one[] = {1};
  store_flags(one, {flag_op::add, flag_flagged, {"$X"}, {}});
  const modseq_t before = mailbox(inbox).highest_modseq;
  const message_info m1 = message(1);

  flag_result again = store_flags(one, {flag_op::add, flag_flagged, {"$X"}, {}});
  CHECK(again.changed.empty());
  CHECK(again.modified.empty());
  flag_result same = store_flags(one, {flag_op::replace, flag_flagged, {"$X"}, {}});
  CHECK(same.changed.empty());
  flag_result nothing = store_flags(all, {flag_op::remove, flag_draft, {"$Nope"}, {}});
  CHECK(nothing.changed.empty());
  CHECK(message(1).modseq == m1.modseq);
  CHECK(mailbox(inbox).highest_modseq == before);
  auto changes = store().changes_since(inbox, before);
  REQUIRE(changes.ok());
  CHECK(changes->empty());
}

TEST_CASE_METHOD(three_messages, "UNCHANGEDSINCE refuses messages changed later (RFC 7162 3.2)",
                 "[flags][modseq]") {
  const modseq_t snapshot = mailbox(inbox).highest_modseq;
  const imap_uid two[] = {2};
  const modseq_t later = store_flags(two, {flag_op::add, flag_seen, {}, {}}).changed.at(0).modseq;

  flag_result guarded = store_flags(all, {flag_op::add, flag_flagged, {}, snapshot});
  CHECK(uids_in(guarded.changed) == std::vector<imap_uid>{1, 3});
  CHECK(guarded.modified == std::vector<imap_uid>{2});
  CHECK(message(2).flags == flag_seen);
  CHECK(message(2).modseq == later);
  CHECK(message(1).flags == flag_flagged);

  // A message whose modseq equals UNCHANGEDSINCE may be changed.
  const modseq_t now = message(1).modseq;
  const imap_uid one[] = {1};
  flag_result equal = store_flags(one, {flag_op::add, flag_answered, {}, now});
  CHECK(uids_in(equal.changed) == std::vector<imap_uid>{1});
  CHECK(equal.modified.empty());

  // UNCHANGEDSINCE 0 refuses every message (all modseqs are positive).
  flag_result zero = store_flags(all, {flag_op::add, flag_draft, {}, modseq_t{0}});
  CHECK(zero.changed.empty());
  CHECK(zero.modified == std::vector<imap_uid>{1, 2, 3});
}

TEST_CASE_METHOD(three_messages, "store_flags ignores missing UIDs; unknown mailbox is not_found",
                 "[flags][errors]") {
  const imap_uid some[] = {3, 42, 1};
  flag_result done = store_flags(some, {flag_op::add, flag_seen, {}, {}});
  CHECK(uids_in(done.changed) == std::vector<imap_uid>{1, 3});
  CHECK(
      store().store_flags(mailbox_id{987654321}, some, {flag_op::add, flag_seen, {}, {}}).code() ==
      errc::not_found);
}

TEST_CASE_METHOD(three_messages, "keywords differing only in case are one keyword (RFC 3501 2.3.2)",
                 "[flags][keywords]") {
  // On append the first spelling wins.
  const appended a = append_one(inbox, make_message("four"), 0, {"$junk", "Work", "$Junk", "work"});
  CHECK(message(a.uid).keywords == std::vector<std::string>{"$junk", "Work"});
  const imap_uid one[] = {a.uid};

  // Adding another spelling changes nothing, and the stored spelling stays.
  CHECK(store_flags(one, {flag_op::add, 0, {"$JUNK", "WORK"}, {}}).changed.empty());
  CHECK(message(a.uid).keywords == std::vector<std::string>{"$junk", "Work"});

  // Spellings in one request are one keyword too.
  flag_result added = store_flags(one, {flag_op::add, 0, {"$Label", "$LABEL"}, {}});
  REQUIRE(added.changed.size() == 1);
  CHECK(added.changed[0].keywords == std::vector<std::string>{"$Label", "$junk", "Work"});

  // Removing matches any spelling.
  flag_result removed = store_flags(one, {flag_op::remove, 0, {"$JUNK", "$label"}, {}});
  REQUIRE(removed.changed.size() == 1);
  CHECK(message(a.uid).keywords == std::vector<std::string>{"Work"});

  // Replacing takes the request's spellings, one of each keyword.
  flag_result replaced = store_flags(one, {flag_op::replace, 0, {"b", "B", "a"}, {}});
  REQUIRE(replaced.changed.size() == 1);
  CHECK(message(a.uid).keywords == std::vector<std::string>{"a", "b"});
  reopen();
  CHECK(message(a.uid).keywords == std::vector<std::string>{"a", "b"});
}

TEST_CASE_METHOD(three_messages, "flags survive reopen", "[flags][reopen]") {
  const imap_uid two[] = {2};
  store_flags(two, {flag_op::add, flag_seen | flag_deleted, {"Work", "$Junk"}, {}});
  const message_info before = message(2);
  reopen();
  const message_info after = message(2);
  CHECK(after.flags == (flag_seen | flag_deleted));
  CHECK(after.keywords == std::vector<std::string>{"$Junk", "Work"});
  CHECK(after.modseq == before.modseq);
  CHECK(mailbox(inbox).unseen == 2);
  CHECK(mailbox(inbox).deleted == 1);
}

}  // namespace
}  // namespace packmail::storage::test
