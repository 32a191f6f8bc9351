// Contract: users, the mailbox tree, UIDVALIDITY, subscriptions, special use.
#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "store_fixture.h"

namespace packmail::storage::test {
namespace {

std::vector<std::string> names_of(mail_store& store, user_id user) {
  auto boxes = store.list_mailboxes(user);
  REQUIRE(boxes.error().to_string() == "ok");
  std::vector<std::string> names;
  for (const auto& b : *boxes) names.push_back(b.name);
  return names;
}

std::uint32_t now32() { return static_cast<std::uint32_t>(std::time(nullptr)); }

TEST_CASE_METHOD(store_fixture, "ensure_user creates INBOX and the special-use mailboxes",
                 "[users]") {
  const std::uint32_t before = now32();
  const user_id alice = make_user("alice");
  CHECK(names_of(store(), alice) ==
        std::vector<std::string>{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"});
  CHECK(mailbox(alice, "INBOX").special_use == 0);
  CHECK(mailbox(alice, "Drafts").special_use == use_drafts);
  CHECK(mailbox(alice, "Sent").special_use == use_sent);
  CHECK(mailbox(alice, "Trash").special_use == use_trash);
  CHECK(mailbox(alice, "Junk").special_use == use_junk);
  CHECK(mailbox(alice, "Archive").special_use == use_archive);

  auto boxes = store().list_mailboxes(alice);
  REQUIRE(boxes.ok());
  std::vector<std::uint32_t> validities;
  std::vector<mailbox_id> ids;
  for (const auto& b : *boxes) {
    CHECK(b.owner == alice);
    CHECK(b.uidnext == 1);
    CHECK(b.messages == 0);
    CHECK(b.unseen == 0);
    CHECK(b.deleted == 0);
    CHECK(b.bytes == 0);
    // RFC 7162 3.1.1: HIGHESTMODSEQ is a positive number even when empty.
    CHECK(b.highest_modseq > 0);
    CHECK(b.uidvalidity >= before);
    validities.push_back(b.uidvalidity);
    ids.push_back(b.id);
  }
  std::sort(validities.begin(), validities.end());
  CHECK(std::adjacent_find(validities.begin(), validities.end()) == validities.end());
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(stats().users == 1);
  CHECK(stats().mailboxes == 6);
}

TEST_CASE_METHOD(store_fixture, "user names are case-insensitive and stored lower case",
                 "[users]") {
  const user_id alice = make_user("Alice");
  CHECK(make_user("ALICE") == alice);
  CHECK(names_of(store(), alice).size() == 6);  // the second call created nothing
  auto found = store().find_user("aLiCe");
  REQUIRE(found.ok());
  CHECK(*found == alice);
  const user_id bob = make_user("bob");
  CHECK(bob != alice);
  auto users = store().list_users();
  REQUIRE(users.ok());
  CHECK(*users == std::vector<std::string>{"alice", "bob"});
  CHECK(stats().users == 2);
}

TEST_CASE_METHOD(store_fixture, "find_user of a user never created is not_found", "[users]") {
  make_user("alice");
  CHECK(store().find_user("nobody").code() == errc::not_found);
}

TEST_CASE_METHOD(store_fixture, "calls naming an unknown user or mailbox are not_found",
                 "[mailboxes]") {
  const user_id alice = make_user();
  const user_id unknown = alice + 1000;
  CHECK(store().list_mailboxes(unknown).code() == errc::not_found);
  CHECK(store().get_mailbox(unknown, "INBOX").code() == errc::not_found);
  CHECK(store().get_mailbox(alice, "Nope").code() == errc::not_found);
  CHECK(store().get_mailbox(mailbox_id{987654321}).code() == errc::not_found);
  CHECK(store().create_mailbox(unknown, "x").code() == errc::not_found);
  CHECK(store().delete_mailbox(alice, "Nope").code() == errc::not_found);
  CHECK(store().rename_mailbox(alice, "Nope", "Other").code() == errc::not_found);
  CHECK(store().set_special_use(alice, "Nope", use_flagged).code() == errc::not_found);
  CHECK(store().list_subscriptions(unknown).code() == errc::not_found);
}

TEST_CASE_METHOD(store_fixture, "INBOX is matched case-insensitively and reported as INBOX",
                 "[mailboxes]") {
  const user_id alice = make_user();
  const mailbox_info inbox = mailbox(alice, "INBOX");
  CHECK(inbox.name == "INBOX");
  const mailbox_info lower = mailbox(alice, "inbox");
  CHECK(lower.id == inbox.id);
  CHECK(lower.name == "INBOX");
  CHECK(mailbox(alice, "InBoX").id == inbox.id);
  CHECK(store().create_mailbox(alice, "inbox").code() == errc::exists);
  // Other names are case-sensitive.
  make_mailbox(alice, "Work");
  make_mailbox(alice, "work");
  CHECK(mailbox(alice, "Work").id != mailbox(alice, "work").id);
}

TEST_CASE_METHOD(store_fixture, "create_mailbox", "[mailboxes]") {
  const user_id alice = make_user();
  const std::uint32_t before = now32();

  SECTION("returns the new mailbox, found by name and by id") {
    const mailbox_info created = make_mailbox(alice, "Projects");
    CHECK(created.name == "Projects");
    CHECK(created.owner == alice);
    CHECK(created.uidnext == 1);
    CHECK(created.messages == 0);
    CHECK(created.highest_modseq > 0);
    CHECK(created.special_use == 0);
    CHECK(mailbox(alice, "Projects").id == created.id);
    CHECK(mailbox(created.id).name == "Projects");
    CHECK(stats().mailboxes == 7);
  }
  SECTION("UIDVALIDITY is at least now and above every earlier one of the user") {
    std::uint32_t highest = 0;
    auto existing = store().list_mailboxes(alice);
    REQUIRE(existing.ok());
    for (const auto& b : *existing) highest = std::max(highest, b.uidvalidity);
    const mailbox_info a = make_mailbox(alice, "a");
    const mailbox_info b = make_mailbox(alice, "b");
    CHECK(a.uidvalidity >= before);
    CHECK(a.uidvalidity > highest);
    CHECK(b.uidvalidity > a.uidvalidity);
  }
  SECTION("a taken name is exists") {
    make_mailbox(alice, "Projects");
    CHECK(store().create_mailbox(alice, "Projects").code() == errc::exists);
    CHECK(store().create_mailbox(alice, "Sent").code() == errc::exists);
    CHECK(stats().mailboxes == 7);
  }
  SECTION("malformed names are invalid_argument") {
    for (std::string_view bad : {"", "/", "/a", "a/", "a//b", "//"}) {
      INFO("name \"" << bad << "\"");
      CHECK(store().create_mailbox(alice, bad).code() == errc::invalid_argument);
    }
    CHECK(stats().mailboxes == 6);
  }
  SECTION("parents are not created") {
    const mailbox_info deep = make_mailbox(alice, "x/y/z");
    CHECK(deep.name == "x/y/z");
    CHECK(store().get_mailbox(alice, "x").code() == errc::not_found);
    CHECK(store().get_mailbox(alice, "x/y").code() == errc::not_found);
  }
  SECTION("special use is stored") {
    auto created = store().create_mailbox(alice, "Everything", use_all | use_flagged);
    REQUIRE(created.ok());
    CHECK(created->special_use == (use_all | use_flagged));
    CHECK(mailbox(alice, "Everything").special_use == (use_all | use_flagged));
  }
  SECTION("names are per user") {
    const user_id bob = make_user("bob");
    const mailbox_info mine = make_mailbox(alice, "Shared");
    const mailbox_info his = make_mailbox(bob, "Shared");
    CHECK(mine.id != his.id);
    CHECK(his.owner == bob);
  }
  SECTION("UTF-8 names round-trip") {
    make_mailbox(alice,
                 "Entw\xC3\xBC"
                 "rfe/\xE6\x97\xA5\xE6\x9C\xAC");
    CHECK(mailbox(alice,
                  "Entw\xC3\xBC"
                  "rfe/\xE6\x97\xA5\xE6\x9C\xAC")
              .name ==
          "Entw\xC3\xBC"
          "rfe/\xE6\x97\xA5\xE6\x9C\xAC");
  }
}

TEST_CASE_METHOD(store_fixture, "list_mailboxes is sorted by name", "[mailboxes]") {
  const user_id alice = make_user();
  for (std::string_view name : {"b", "a/c", "a", "B", "a/b", "zz"}) make_mailbox(alice, name);
  const auto names = names_of(store(), alice);
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(names.size() == 12);
}

TEST_CASE_METHOD(store_fixture, "delete_mailbox", "[mailboxes]") {
  const user_id alice = make_user();

  SECTION("removes the mailbox and its messages, not its children") {
    const mailbox_info parent = make_mailbox(alice, "p");
    const mailbox_info child = make_mailbox(alice, "p/c");
    append_many(parent.id, 3);
    append_many(child.id, 1);
    const store_stats before = stats();
    REQUIRE(store().delete_mailbox(alice, "p").ok());
    CHECK(store().get_mailbox(alice, "p").code() == errc::not_found);
    CHECK(store().get_mailbox(parent.id).code() == errc::not_found);
    CHECK(store().list_messages(parent.id).code() == errc::not_found);
    // A delivery to the deleted mailbox's id asks for the mailbox to be created.
    CHECK(append_quietly(parent.id, make_message("late")).code() == errc::try_create);
    CHECK(mailbox(alice, "p/c").messages == 1);
    const store_stats after = stats();
    CHECK(after.mailboxes == before.mailboxes - 1);
    CHECK(after.messages == before.messages - 3);
    CHECK(after.bodies == before.bodies - 3);
    CHECK(after.bytes < before.bytes);
  }
  SECTION("INBOX cannot be deleted") {
    CHECK(store().delete_mailbox(alice, "INBOX").code() == errc::invalid_argument);
    CHECK(store().delete_mailbox(alice, "inbox").code() == errc::invalid_argument);
    CHECK(mailbox(alice, "INBOX").name == "INBOX");
  }
  SECTION("a deleted name can be created again") {
    make_mailbox(alice, "again");
    REQUIRE(store().delete_mailbox(alice, "again").ok());
    CHECK(store().delete_mailbox(alice, "again").code() == errc::not_found);
    make_mailbox(alice, "again");
  }
}

TEST_CASE_METHOD(store_fixture, "re-creating a deleted name raises UIDVALIDITY and restarts UIDs",
                 "[mailboxes][uidvalidity]") {
  const user_id alice = make_user();
  const mailbox_info first = make_mailbox(alice, "reused");
  append_many(first.id, 2);
  REQUIRE(store().delete_mailbox(alice, "reused").ok());
  const mailbox_info second = make_mailbox(alice, "reused");
  CHECK(second.uidvalidity > first.uidvalidity);
  CHECK(second.id != first.id);
  CHECK(second.uidnext == 1);
  CHECK(second.messages == 0);
}

TEST_CASE_METHOD(store_fixture, "users, mailboxes and UIDVALIDITY survive reopen",
                 "[mailboxes][uidvalidity][reopen]") {
  const user_id alice = make_user("alice");
  const user_id bob = make_user("bob");
  const mailbox_info work = make_mailbox(alice, "Work");
  auto before = store().list_mailboxes(alice);
  REQUIRE(before.ok());
  reopen();
  CHECK(make_user("alice") == alice);
  CHECK(*store().find_user("bob") == bob);
  CHECK(*store().list_users() == std::vector<std::string>{"alice", "bob"});
  auto after = store().list_mailboxes(alice);
  REQUIRE(after.ok());
  REQUIRE(after->size() == before->size());
  for (std::size_t i = 0; i < after->size(); ++i) {
    INFO((*before)[i].name);
    CHECK((*after)[i].id == (*before)[i].id);
    CHECK((*after)[i].name == (*before)[i].name);
    CHECK((*after)[i].uidvalidity == (*before)[i].uidvalidity);
    CHECK((*after)[i].uidnext == (*before)[i].uidnext);
    CHECK((*after)[i].special_use == (*before)[i].special_use);
    CHECK((*after)[i].highest_modseq == (*before)[i].highest_modseq);
  }
  // The user's last UIDVALIDITY survives too: a new mailbox gets a higher one.
  CHECK(make_mailbox(alice, "Later").uidvalidity > work.uidvalidity);
  // And ids are never reused.
  const mailbox_info later2 = make_mailbox(bob, "Later");
  for (const auto& b : *before) CHECK(b.id != later2.id);
  CHECK(stats().users == 2);
  CHECK(stats().mailboxes == 15);
}

TEST_CASE_METHOD(store_fixture, "rename_mailbox", "[mailboxes][rename]") {
  const user_id alice = make_user();

  SECTION("keeps id, UIDVALIDITY, UIDNEXT and messages") {
    const mailbox_info old = make_mailbox(alice, "old");
    const auto uids = append_many(old.id, 2);
    REQUIRE(store().rename_mailbox(alice, "old", "new").ok());
    CHECK(store().get_mailbox(alice, "old").code() == errc::not_found);
    const mailbox_info renamed = mailbox(alice, "new");
    CHECK(renamed.id == old.id);
    CHECK(renamed.name == "new");
    CHECK(renamed.uidvalidity == old.uidvalidity);
    CHECK(renamed.uidnext == 3);
    CHECK(renamed.messages == 2);
    CHECK(uids_of(renamed.id) == uids);
    CHECK(mailbox(old.id).name == "new");
    // Deliveries by id keep working across the rename.
    CHECK(append_one(old.id, make_message("after rename")).uid == 3);
  }
  SECTION("moves every child and nothing else") {
    for (std::string_view name : {"a", "a/x", "a/x/y", "ab", "b/a"}) make_mailbox(alice, name);
    const mailbox_id deep = mailbox(alice, "a/x/y").id;
    REQUIRE(store().rename_mailbox(alice, "a", "c/d").ok());
    const auto names = names_of(store(), alice);
    for (std::string_view gone : {"a", "a/x", "a/x/y"}) {
      CHECK(std::find(names.begin(), names.end(), gone) == names.end());
    }
    for (std::string_view present : {"c/d", "c/d/x", "c/d/x/y", "ab", "b/a"}) {
      INFO(present);
      CHECK(std::find(names.begin(), names.end(), present) != names.end());
    }
    CHECK(mailbox(alice, "c/d/x/y").id == deep);
    CHECK(store().get_mailbox(alice, "c").code() == errc::not_found);
  }
  SECTION("a child mailbox alone can be renamed") {
    make_mailbox(alice, "a");
    make_mailbox(alice, "a/x");
    REQUIRE(store().rename_mailbox(alice, "a/x", "y").ok());
    CHECK(names_of(store(), alice).size() == 8);
    CHECK(mailbox(alice, "y").name == "y");
    CHECK(mailbox(alice, "a").name == "a");
  }
  SECTION("a taken target is exists and changes nothing") {
    make_mailbox(alice, "a");
    make_mailbox(alice, "b");
    CHECK(store().rename_mailbox(alice, "a", "b").code() == errc::exists);
    CHECK(store().rename_mailbox(alice, "a", "a").code() == errc::exists);
    CHECK(store().rename_mailbox(alice, "a", "inbox").code() == errc::exists);
    CHECK(names_of(store(), alice).size() == 8);
  }
  SECTION("a taken name for a child is exists and changes nothing") {
    make_mailbox(alice, "a");
    make_mailbox(alice, "a/x");
    make_mailbox(alice, "b/x");
    const auto before = names_of(store(), alice);
    CHECK(store().rename_mailbox(alice, "a", "b").code() == errc::exists);
    CHECK(names_of(store(), alice) == before);
  }
  SECTION("a malformed target is invalid_argument") {
    make_mailbox(alice, "a");
    for (std::string_view bad : {"", "/b", "b/", "b//c"}) {
      INFO("target \"" << bad << "\"");
      CHECK(store().rename_mailbox(alice, "a", bad).code() == errc::invalid_argument);
    }
    CHECK(mailbox(alice, "a").name == "a");
  }
  SECTION("into its own child is invalid_argument and changes nothing") {
    make_mailbox(alice, "a");
    make_mailbox(alice, "a/x");
    const auto before = names_of(store(), alice);
    CHECK(store().rename_mailbox(alice, "a", "a/b").code() == errc::invalid_argument);
    CHECK(store().rename_mailbox(alice, "a", "a/x").code() == errc::invalid_argument);
    CHECK(store().rename_mailbox(alice, "a", "a/x/y").code() == errc::invalid_argument);
    CHECK(store().rename_mailbox(alice, "INBOX", "inbox/Old").code() == errc::invalid_argument);
    CHECK(names_of(store(), alice) == before);
    // A sibling that shares the name's start is not a child.
    REQUIRE(store().rename_mailbox(alice, "a", "ab").ok());
    CHECK(mailbox(alice, "ab/x").name == "ab/x");
  }
  SECTION("survives reopen") {
    make_mailbox(alice, "a");
    make_mailbox(alice, "a/x");
    REQUIRE(store().rename_mailbox(alice, "a", "b").ok());
    reopen();
    CHECK(mailbox(alice, "b/x").name == "b/x");
    CHECK(store().get_mailbox(alice, "a").code() == errc::not_found);
    CHECK(store().get_mailbox(alice, "a/x").code() == errc::not_found);
  }
}

TEST_CASE_METHOD(store_fixture,
                 "renaming INBOX moves its messages to a new mailbox (RFC 3501 6.3.5)",
                 "[mailboxes][rename]") {
  const user_id alice = make_user();
  const mailbox_info inbox = mailbox(alice, "INBOX");
  make_mailbox(alice, "INBOX/child");
  const appended first = append_one(inbox.id, make_message("one"), flag_seen, {"$Label1"});
  const appended second = append_one(inbox.id, make_message("two"), 0, {}, "Delivered-To: a\r\n");
  const std::string first_bytes = read_all(inbox.id, first.uid);
  const std::string second_bytes = read_all(inbox.id, second.uid);
  const store_stats before = stats();

  REQUIRE(store().rename_mailbox(alice, "inbox", "Old Mail").ok());

  const mailbox_info now_inbox = mailbox(alice, "INBOX");
  CHECK(now_inbox.id == inbox.id);
  CHECK(now_inbox.uidvalidity == inbox.uidvalidity);
  CHECK(now_inbox.messages == 0);
  CHECK(now_inbox.bytes == 0);
  CHECK(now_inbox.uidnext == 3);  // UIDs are never reused
  CHECK(uids_of(inbox.id).empty());

  const mailbox_info moved = mailbox(alice, "Old Mail");
  CHECK(moved.id != inbox.id);
  CHECK(moved.uidvalidity > inbox.uidvalidity);
  CHECK(moved.messages == 2);
  CHECK(moved.unseen == 1);
  auto messages = store().list_messages(moved.id);
  REQUIRE(messages.ok());
  REQUIRE(messages->size() == 2);
  CHECK((*messages)[0].flags == flag_seen);
  CHECK((*messages)[0].keywords == std::vector<std::string>{"$Label1"});
  CHECK(read_all(moved.id, (*messages)[0].uid) == first_bytes);
  CHECK(read_all(moved.id, (*messages)[1].uid) == second_bytes);

  // Children of INBOX stay where they are.
  CHECK(mailbox(alice, "INBOX/child").name == "INBOX/child");
  CHECK(store().get_mailbox(alice, "Old Mail/child").code() == errc::not_found);

  // Bodies were moved, not copied.
  CHECK(stats().bodies == before.bodies);
  CHECK(stats().messages == before.messages);

  // New deliveries go to the empty INBOX with fresh UIDs.
  CHECK(append_one(inbox.id, make_message("three")).uid == 3);
  CHECK(store().rename_mailbox(alice, "INBOX", "Sent").code() == errc::exists);
}

TEST_CASE_METHOD(store_fixture, "set_special_use", "[mailboxes]") {
  const user_id alice = make_user();
  make_mailbox(alice, "Flagged");
  REQUIRE(store().set_special_use(alice, "Flagged", use_flagged).ok());
  CHECK(mailbox(alice, "Flagged").special_use == use_flagged);
  REQUIRE(store().set_special_use(alice, "Trash", 0).ok());
  CHECK(mailbox(alice, "Trash").special_use == 0);
  REQUIRE(store().set_special_use(alice, "inbox", use_all).ok());
  CHECK(mailbox(alice, "INBOX").special_use == use_all);
  reopen();
  CHECK(mailbox(alice, "Flagged").special_use == use_flagged);
  CHECK(mailbox(alice, "Trash").special_use == 0);
}

TEST_CASE_METHOD(store_fixture, "special-use bits outside RFC 6154 are dropped", "[mailboxes]") {
  const user_id alice = make_user();
  constexpr std::uint8_t k_defined =
      use_all | use_archive | use_drafts | use_flagged | use_junk | use_sent | use_trash;
  auto created = store().create_mailbox(alice, "Everything", 0xFF);
  REQUIRE(created.ok());
  CHECK(created->special_use == k_defined);
  CHECK(mailbox(alice, "Everything").special_use == k_defined);
  REQUIRE(store().set_special_use(alice, "Everything", 0x80 | use_junk).ok());
  CHECK(mailbox(alice, "Everything").special_use == use_junk);
  reopen();
  CHECK(mailbox(alice, "Everything").special_use == use_junk);
}

TEST_CASE_METHOD(store_fixture, "subscriptions are names, kept across delete and reopen",
                 "[mailboxes][subscriptions]") {
  const user_id alice = make_user();
  const user_id bob = make_user("bob");
  auto initial = store().list_subscriptions(alice);
  REQUIRE(initial.ok());
  CHECK(initial->empty());

  make_mailbox(alice, "Lists");
  REQUIRE(store().set_subscribed(alice, "Lists", true).ok());
  REQUIRE(store().set_subscribed(alice, "Does/Not/Exist", true).ok());
  REQUIRE(store().set_subscribed(alice, "Lists", true).ok());  // idempotent
  REQUIRE(store().set_subscribed(alice, "INBOX", true).ok());
  CHECK(*store().list_subscriptions(alice) ==
        std::vector<std::string>{"Does/Not/Exist", "INBOX", "Lists"});
  CHECK(store().list_subscriptions(bob)->empty());

  REQUIRE(store().delete_mailbox(alice, "Lists").ok());
  CHECK(*store().list_subscriptions(alice) ==
        std::vector<std::string>{"Does/Not/Exist", "INBOX", "Lists"});

  REQUIRE(store().set_subscribed(alice, "Does/Not/Exist", false).ok());
  REQUIRE(store().set_subscribed(alice, "Never/Subscribed", false).ok());
  reopen();
  CHECK(*store().list_subscriptions(alice) == std::vector<std::string>{"INBOX", "Lists"});
}

}  // namespace
}  // namespace packmail::storage::test
