// A mailbox whose UID space is used up: the segment backend refuses with the
// error the memory backend gives (storage/common/mailbox_rules.h), and the
// contract suite cannot reach 2^32 UIDs, so the record is forged here.
#include <catch2/catch.hpp>

#include <limits>

#include "segment_test_util.h"

using namespace packmail::storage;
using namespace packmail::storage::segment;
using namespace packmail::storage::segment::test;

namespace {

result<std::vector<appended>> append_to(mail_store& store, std::vector<mailbox_id> mailboxes) {
  static const std::string message = make_message(1, 20);
  append_request r;
  r.message = message;
  for (mailbox_id m : mailboxes) r.targets.push_back({m, 0, {}, ""});
  return store.append(r);
}

}  // namespace

TEST_CASE("a used-up UID space refuses appends and copies with over_quota", "[uid_space]") {
  constexpr imap_uid k_max = std::numeric_limits<imap_uid>::max();
  temp_dir dir;
  auto options = test_options(dir.path());
  mailbox_id full = 0;
  mailbox_id inbox = 0;
  {
    auto store = open_or_fail(options);
    const user_id user = *store->ensure_user("erin");
    full = store->create_mailbox(user, "Full", 0)->id;
    inbox = store->get_mailbox(user, "INBOX")->id;
    REQUIRE(append_to(*store, {inbox}).ok());
  }
  {
    raw_db raw(options.path);
    auto record = decode_mailbox(raw.get(cf_mbox, mailbox_key(full)).value());
    REQUIRE(record);
    record->uidnext = k_max - 1;
    raw.put(cf_mbox, mailbox_key(full), encode(*record));
  }
  auto store = open_or_fail(options);

  // The last UID given out is 2^32 - 2, so that UIDNEXT stays representable.
  auto last = append_to(*store, {full});
  REQUIRE(last.ok());
  CHECK(last->front().uid == k_max - 1);
  CHECK(store->get_mailbox(full)->uidnext == k_max);

  CHECK(append_to(*store, {full}).code() == errc::over_quota);
  // All or nothing: the other target gets nothing either.
  CHECK(append_to(*store, {inbox, full}).code() == errc::over_quota);
  CHECK(store->get_mailbox(inbox)->messages == 1);
  const imap_uid first[] = {1};
  CHECK(store->copy(inbox, first, full, false).code() == errc::over_quota);
  CHECK(store->copy(inbox, first, full, true).code() == errc::over_quota);
  CHECK(store->get_mailbox(inbox)->messages == 1);
  CHECK(store->get_mailbox(full)->messages == 1);
}
