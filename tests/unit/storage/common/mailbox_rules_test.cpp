// The rules both backends share. The contract suite holds each backend to
// them through the interface; this checks the boundaries it cannot reach
// (the end of the UID space) and every byte range.
#include <catch2/catch.hpp>

#include <ctime>
#include <limits>
#include <string>
#include <vector>

#include "mailbox_rules.h"

using namespace packmail::storage;
using namespace packmail::storage::detail;

using keywords = std::vector<std::string>;

TEST_CASE("canonical_name makes INBOX upper case as the first level only") {
  CHECK(canonical_name("inbox") == "INBOX");
  CHECK(canonical_name("Inbox/x") == "INBOX/x");
  CHECK(canonical_name("a/inbox") == "a/inbox");
  CHECK(canonical_name("inboxes") == "inboxes");
  CHECK(canonical_name("Work") == "Work");
}

TEST_CASE("valid_name refuses empty levels and edge separators") {
  CHECK(valid_name("a"));
  CHECK(valid_name("a/b"));
  for (std::string_view bad : {"", "/", "/a", "a/", "a//b"}) CHECK_FALSE(valid_name(bad));
}

TEST_CASE("check_rename refuses the same name and the mailbox's own children") {
  CHECK(check_rename("a", "a").code() == errc::exists);
  CHECK(check_rename("a", "a/b").code() == errc::invalid_argument);
  CHECK(check_rename("a/b", "a/b/c/d").code() == errc::invalid_argument);
  CHECK(check_rename("a", "ab").ok());
  CHECK(check_rename("a/b", "a").ok());
  CHECK(check_rename("a", "b/a").ok());
}

TEST_CASE("next_uidvalidity is at least now and above the last") {
  const auto now = static_cast<std::uint32_t>(std::time(nullptr));
  CHECK(next_uidvalidity(0) >= now);
  CHECK(next_uidvalidity(now + 100) == now + 101);
}

TEST_CASE("UIDs run out one below 2^32 - 1, with one error for both backends") {
  constexpr imap_uid k_max = std::numeric_limits<imap_uid>::max();
  CHECK(uids_available(1, 1));
  CHECK(uids_available(k_max - 1, 1));
  CHECK_FALSE(uids_available(k_max, 1));
  CHECK(uids_available(k_max - 2, 2));
  CHECK_FALSE(uids_available(k_max - 2, 3));
  CHECK(uids_available(1, k_max - 1));
  CHECK_FALSE(uids_available(1, k_max));
  CHECK_FALSE(uids_available(0, 1));  // never a valid UIDNEXT
  CHECK(uid_space_exhausted("Full").code() == errc::over_quota);
}

TEST_CASE("sorted_unique") {
  const imap_uid uids[] = {4, 1, 99, 3, 1, 4};
  CHECK(sorted_unique(uids) == std::vector<imap_uid>{1, 3, 4, 99});
}

TEST_CASE("keywords are unique case-insensitively, first spelling kept, sorted bytewise") {
  CHECK(normalize_keywords({"b", "$junk", "", "B", "$Junk", "a"}) == keywords{"$junk", "a", "b"});
  CHECK(normalize_keywords({"Work", "work", "WORK"}) == keywords{"Work"});
  CHECK(normalize_keywords({}).empty());
}

TEST_CASE("apply_flag_change") {
  const keywords current{"$Junk", "Work"};
  SECTION("add keeps the message's spelling") {
    flag_state s = apply_flag_change(flag_seen, current, flag_op::add, flag_deleted,
                                     {"$Label", "$junk", "work"});
    CHECK(s.flags == (flag_seen | flag_deleted));
    CHECK(s.keywords == keywords{"$Junk", "$Label", "Work"});
  }
  SECTION("remove matches any spelling") {
    flag_state s = apply_flag_change(flag_seen | flag_draft, current, flag_op::remove, flag_seen,
                                     {"$JUNK", "$Nope"});
    CHECK(s.flags == flag_draft);
    CHECK(s.keywords == keywords{"Work"});
  }
  SECTION("replace takes the request") {
    flag_state s = apply_flag_change(flag_seen, current, flag_op::replace, flag_answered, {"work"});
    CHECK(s.flags == flag_answered);
    CHECK(s.keywords == keywords{"work"});
  }
}

TEST_CASE("slice_message returns every byte range of prefix plus body") {
  const std::string prefix = "P1\r\n";
  const std::string body = "body bytes";
  const std::string whole = prefix + body;
  for (std::uint64_t offset = 0; offset <= whole.size() + 1; ++offset) {
    for (std::uint64_t length :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{whole.size()},
          std::numeric_limits<std::uint64_t>::max()}) {
      INFO("offset " << offset << " length " << length);
      const std::string expected =
          offset >= whole.size() ? std::string() : whole.substr(offset, length);
      CHECK(slice_message(prefix, body, offset, length) == expected);
    }
  }
  CHECK(slice_message("", body, 2, 3) == "dy ");
  CHECK(slice_message(prefix, "", 1, 10) == "1\r\n");
}
