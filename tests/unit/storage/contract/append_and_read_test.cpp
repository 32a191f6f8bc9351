// Contract: append (one body, many targets), message metadata, byte-range
// reads over prefix + body, the stored MIME structure.
#include <algorithm>
#include <ctime>
#include <limits>
#include <string>
#include <vector>

#include "store_fixture.h"

namespace packmail::storage::test {
namespace {

constexpr std::uint64_t k_all = std::numeric_limits<std::uint64_t>::max();

TEST_CASE_METHOD(store_fixture, "append stores one message with its metadata", "[append]") {
  const user_id alice = make_user();
  const mailbox_info inbox = mailbox(alice, "INBOX");
  const std::string message = make_message("metadata", "Body text.\r\n");
  const std::string prefix = "Return-Path: <a@example.org>\r\nDelivered-To: alice@example.org\r\n";

  append_request request;
  request.message = message;
  request.internal_date = 1700000000;
  request.tz_offset = -300;
  request.targets.push_back(
      {inbox.id, flag_seen | flag_flagged, {"$Work", "$Label1", "$Work"}, prefix});
  auto done = store().append(request);
  REQUIRE(done.error().to_string() == "ok");
  REQUIRE(done->size() == 1);
  const appended a = done->front();
  CHECK(a.mailbox == inbox.id);
  CHECK(a.uidvalidity == inbox.uidvalidity);
  CHECK(a.uid == 1);
  CHECK(a.modseq > inbox.highest_modseq);

  auto info = store().get_message(inbox.id, a.uid);
  REQUIRE(info.ok());
  CHECK(info->uid == 1);
  CHECK(info->modseq == a.modseq);
  CHECK(info->internal_date == 1700000000);
  CHECK(info->tz_offset == -300);
  CHECK(info->size == message.size() + prefix.size());
  CHECK(info->prefix_size == prefix.size());
  CHECK(info->flags == (flag_seen | flag_flagged));
  CHECK(info->keywords == std::vector<std::string>{"$Label1", "$Work"});

  const mailbox_info after = mailbox(inbox.id);
  CHECK(after.uidnext == 2);
  CHECK(after.messages == 1);
  CHECK(after.unseen == 0);
  CHECK(after.deleted == 0);
  CHECK(after.bytes == message.size() + prefix.size());
  CHECK(after.highest_modseq == a.modseq);

  CHECK(read_all(inbox.id, a.uid) == prefix + message);
  const store_stats s = stats();
  CHECK(s.messages == 1);
  CHECK(s.bodies == 1);
  CHECK(s.bytes == message.size());  // distinct bodies, prefixes not included
}

TEST_CASE_METHOD(store_fixture, "mailbox counts follow appended flags", "[append]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  append_one(inbox, make_message("a"));
  append_one(inbox, make_message("b"), flag_seen);
  append_one(inbox, make_message("c"), flag_deleted);
  append_one(inbox, make_message("d"), flag_seen | flag_deleted | flag_answered | flag_draft);
  const mailbox_info info = mailbox(inbox);
  CHECK(info.messages == 4);
  CHECK(info.unseen == 2);
  CHECK(info.deleted == 2);
  CHECK(info.uidnext == 5);
  CHECK(uids_of(inbox) == std::vector<imap_uid>{1, 2, 3, 4});
}

TEST_CASE_METHOD(store_fixture, "internal date 0 means now", "[append]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const std::int64_t before = std::time(nullptr);
  const appended a = append_one(inbox, make_message("now"));
  const std::int64_t after = std::time(nullptr);
  auto info = store().get_message(inbox, a.uid);
  REQUIRE(info.ok());
  CHECK(info->internal_date >= before);
  CHECK(info->internal_date <= after);
}

TEST_CASE_METHOD(store_fixture, "one append to many targets stores one body", "[append][bodies]") {
  const user_id alice = make_user("alice");
  const user_id bob = make_user("bob");
  const mailbox_info a_inbox = mailbox(alice, "INBOX");
  const mailbox_info b_inbox = mailbox(bob, "INBOX");
  const mailbox_info a_work = make_mailbox(alice, "Work");
  append_one(b_inbox.id, make_message("earlier"));  // bob's INBOX UIDs start at 2 now

  const std::string message = make_message("to many", "Shared body.\r\n");
  append_request request;
  request.message = message;
  request.targets.push_back({a_inbox.id, 0, {}, "Delivered-To: alice@example.org\r\n"});
  request.targets.push_back({b_inbox.id, flag_flagged, {"$Important"}, ""});
  request.targets.push_back({a_work.id, flag_seen, {}, "X-Original-To: work@example.org\r\n"});
  const store_stats before = stats();
  auto done = store().append(request);
  REQUIRE(done.error().to_string() == "ok");
  REQUIRE(done->size() == 3);
  CHECK((*done)[0].mailbox == a_inbox.id);
  CHECK((*done)[0].uid == 1);
  CHECK((*done)[0].uidvalidity == a_inbox.uidvalidity);
  CHECK((*done)[1].mailbox == b_inbox.id);
  CHECK((*done)[1].uid == 2);
  CHECK((*done)[1].uidvalidity == b_inbox.uidvalidity);
  CHECK((*done)[2].mailbox == a_work.id);
  CHECK((*done)[2].uid == 1);

  const store_stats after = stats();
  CHECK(after.bodies == before.bodies + 1);
  CHECK(after.bytes == before.bytes + message.size());
  CHECK(after.messages == before.messages + 3);

  // Each target reads its own prefix before the shared body.
  CHECK(read_all(a_inbox.id, 1) == "Delivered-To: alice@example.org\r\n" + message);
  CHECK(read_all(b_inbox.id, 2) == message);
  CHECK(read_all(a_work.id, 1) == "X-Original-To: work@example.org\r\n" + message);

  auto a_msg = store().get_message(a_inbox.id, 1);
  auto b_msg = store().get_message(b_inbox.id, 2);
  auto w_msg = store().get_message(a_work.id, 1);
  REQUIRE((a_msg.ok() && b_msg.ok() && w_msg.ok()));
  CHECK(a_msg->body == b_msg->body);
  CHECK(a_msg->body == w_msg->body);
  CHECK(a_msg->size == message.size() + 33);
  CHECK(b_msg->size == message.size());
  CHECK(b_msg->prefix_size == 0);
  CHECK(b_msg->flags == flag_flagged);
  CHECK(b_msg->keywords == std::vector<std::string>{"$Important"});
  CHECK(w_msg->flags == flag_seen);
  CHECK(mailbox(a_work.id).bytes == w_msg->size);
}

TEST_CASE_METHOD(store_fixture, "distinct appends store distinct bodies", "[append][bodies]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const appended a = append_one(inbox, make_message("same"));
  const appended b = append_one(inbox, make_message("same"));
  CHECK(store().get_message(inbox, a.uid)->body != store().get_message(inbox, b.uid)->body);
  CHECK(stats().bodies == 2);
}

TEST_CASE_METHOD(store_fixture, "append to a missing mailbox is try_create and stores nothing",
                 "[append][errors]") {
  const mailbox_info inbox = mailbox(make_user(), "INBOX");
  append_request request;
  const std::string message = make_message("lost");
  request.message = message;
  request.targets.push_back({inbox.id, 0, {}, ""});
  request.targets.push_back({mailbox_id{987654321}, 0, {}, ""});
  const store_stats before = stats();
  CHECK(store().append(request).code() == errc::try_create);
  const store_stats after = stats();
  CHECK(after.messages == before.messages);
  CHECK(after.bodies == before.bodies);
  CHECK(after.bytes == before.bytes);
  const mailbox_info now = mailbox(inbox.id);
  CHECK(now.uidnext == inbox.uidnext);
  CHECK(now.messages == 0);
  CHECK(now.highest_modseq == inbox.highest_modseq);
}

TEST_CASE_METHOD(store_fixture, "append without a target fails", "[append][errors]") {
  make_user();
  append_request request;
  const std::string message = make_message("nowhere");
  request.message = message;
  CHECK_FALSE(store().append(request).ok());
  CHECK(stats().bodies == 0);
}

TEST_CASE_METHOD(store_fixture, "message lookups report not_found and expunged", "[read][errors]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const appended gone = append_one(inbox, make_message("gone"));
  const appended kept = append_one(inbox, make_message("kept"));
  const imap_uid gone_uids[] = {gone.uid};
  REQUIRE(store().expunge(inbox, gone_uids).ok());
  const mailbox_id missing = 987654321;

  CHECK(store().get_message(missing, kept.uid).code() == errc::not_found);
  CHECK(store().read_message(missing, kept.uid).code() == errc::not_found);
  CHECK(store().read_structure(missing, kept.uid).code() == errc::not_found);
  CHECK(store().list_messages(missing).code() == errc::not_found);

  // A UID never handed out is not_found.
  CHECK(store().get_message(inbox, 3).code() == errc::not_found);
  CHECK(store().read_message(inbox, 3).code() == errc::not_found);
  CHECK(store().read_structure(inbox, 3).code() == errc::not_found);

  // A UID that was in the mailbox and is no longer is expunged.
  CHECK(store().get_message(inbox, gone.uid).code() == errc::expunged);
  CHECK(store().read_message(inbox, gone.uid).code() == errc::expunged);
  CHECK(store().read_structure(inbox, gone.uid).code() == errc::expunged);

  CHECK(store().get_message(inbox, kept.uid).ok());
}

// Every (offset, length) over a message whose prefix and body are both
// non-empty: each read must equal the same slice of prefix + body.
TEST_CASE_METHOD(store_fixture, "read_message returns any byte range of prefix plus body",
                 "[read]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const std::string prefix = "Delivered-To: x@y\r\n";
  const std::string message = make_message("ranges", "0123456789\r\n");
  const appended a = append_one(inbox, message, 0, {}, prefix);
  const std::string whole = prefix + message;

  CHECK(read_all(inbox, a.uid) == whole);
  for (std::uint64_t offset = 0; offset <= whole.size() + 2; ++offset) {
    for (std::uint64_t length :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{prefix.size()},
          std::uint64_t{whole.size()}, k_all}) {
      INFO("offset " << offset << " length " << length);
      auto got = store().read_message(inbox, a.uid, offset, length);
      REQUIRE(got.ok());
      const std::string want =
          offset >= whole.size() ? std::string() : whole.substr(offset, length);
      REQUIRE(*got == want);
    }
  }
}

TEST_CASE_METHOD(store_fixture, "large and binary bodies round-trip", "[read]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  std::string body;
  for (int i = 0; body.size() < 300 * 1024; ++i) {
    body += "line " + std::to_string(i) + " of a large message\r\n";
  }
  const std::string large = make_message("large", body);
  std::string binary = make_message("binary", std::string("\0\x01\xff\r\n\0", 6));
  binary.push_back('\0');

  const appended big = append_one(inbox, large, 0, {}, "X-Prefix: 1\r\n");
  const appended bin = append_one(inbox, binary);
  CHECK(read_all(inbox, big.uid) == "X-Prefix: 1\r\n" + large);
  CHECK(read_all(inbox, bin.uid) == binary);
  auto middle = store().read_message(inbox, big.uid, 150000, 4096);
  REQUIRE(middle.ok());
  CHECK(*middle == ("X-Prefix: 1\r\n" + large).substr(150000, 4096));
  CHECK(store().get_message(inbox, big.uid)->size == large.size() + 13);
  reopen();
  CHECK(read_all(inbox, big.uid) == "X-Prefix: 1\r\n" + large);
  CHECK(read_all(inbox, bin.uid) == binary);
}

TEST_CASE_METHOD(store_fixture, "read_structure returns the structure parsed at delivery",
                 "[read][mime]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const std::string header =
      "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: structure\r\n\r\n";
  const std::string text = "The text of the message.\r\n";
  const std::string prefix = "Delivered-To: bob@example.org\r\n";
  const appended a = append_one(inbox, header + text, 0, {}, prefix);

  auto structure = store().read_structure(inbox, a.uid);
  REQUIRE(structure.error().to_string() == "ok");
  const mime::part& root = structure->root;
  CHECK(root.is_message);
  // Offsets are relative to the body, without the prefix.
  CHECK(root.header_offset == 0);
  CHECK(root.header_length == header.size());
  CHECK(root.body_offset == header.size());
  CHECK(root.body_length == text.size());
  CHECK(root.type == "text");
  CHECK(root.subtype == "plain");
  CHECK_FALSE(structure->envelope.empty());
  CHECK_FALSE(structure->bodystructure.empty());
  CHECK(structure->text.find("The text of the message.") != std::string::npos);

  // Adding prefix_size finds the same bytes through read_message.
  auto info = store().get_message(inbox, a.uid);
  REQUIRE(info.ok());
  auto body =
      store().read_message(inbox, a.uid, info->prefix_size + root.body_offset, root.body_length);
  REQUIRE(body.ok());
  CHECK(*body == text);

  reopen();
  auto again = store().read_structure(inbox, a.uid);
  REQUIRE(again.ok());
  CHECK(again->root.body_offset == root.body_offset);
  CHECK(again->envelope == structure->envelope);
  CHECK(again->bodystructure == structure->bodystructure);
}

TEST_CASE_METHOD(store_fixture, "messages, UIDs and UIDNEXT survive reopen", "[append][reopen]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const appended a = append_one(inbox, make_message("one"), flag_seen, {"$A"}, "P: 1\r\n");
  const appended b = append_one(inbox, make_message("two"));
  auto before = store().list_messages(inbox);
  REQUIRE(before.ok());
  const store_stats stats_before = stats();
  reopen();
  auto after = store().list_messages(inbox);
  REQUIRE(after.ok());
  REQUIRE(after->size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK((*after)[i].uid == (*before)[i].uid);
    CHECK((*after)[i].modseq == (*before)[i].modseq);
    CHECK((*after)[i].internal_date == (*before)[i].internal_date);
    CHECK((*after)[i].size == (*before)[i].size);
    CHECK((*after)[i].flags == (*before)[i].flags);
    CHECK((*after)[i].keywords == (*before)[i].keywords);
    CHECK((*after)[i].body == (*before)[i].body);
    CHECK((*after)[i].prefix_size == (*before)[i].prefix_size);
  }
  CHECK(read_all(inbox, a.uid) == "P: 1\r\n" + make_message("one"));
  CHECK(read_all(inbox, b.uid) == make_message("two"));
  const mailbox_info info = mailbox(inbox);
  CHECK(info.uidnext == 3);
  CHECK(info.messages == 2);
  CHECK(info.unseen == 1);
  const store_stats stats_after = stats();
  CHECK(stats_after.messages == stats_before.messages);
  CHECK(stats_after.bodies == stats_before.bodies);
  CHECK(stats_after.bytes == stats_before.bytes);
  CHECK(append_one(inbox, make_message("three")).uid == 3);
}

}  // namespace
}  // namespace packmail::storage::test
