#include "users/user_db.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "temp_dir.h"
#include "users/passwd_edit.h"

using namespace packmail::server;
using namespace std::chrono_literals;

namespace {

void write(const std::filesystem::path& file, const std::string& text) {
  // Atomic replacement, as packmailctl does: a new inode every time.
  write_file_atomically(file, text, 0600);
}

}  // namespace

TEST_CASE("loads the file and authenticates case-insensitively") {
  testing::temp_dir dir;
  write(dir / "users",
        "Alice:{PLAIN}pw\nbob:" + hash_password(password_scheme::sha512_crypt, "b") + "\n");
  user_db db(dir / "users", 0s);
  CHECK(db.user_count() == 2);
  CHECK(db.authenticate("alice", "pw"));
  CHECK(db.authenticate("ALICE", "pw"));
  CHECK_FALSE(db.authenticate("alice", "PW"));
  CHECK(db.authenticate("bob", "b"));
  CHECK_FALSE(db.authenticate("carol", "pw"));
}

TEST_CASE("a missing file is an empty table, and is picked up once created") {
  testing::temp_dir dir;
  user_db db(dir / "users", 0s);
  CHECK(db.user_count() == 0);
  write(dir / "users", "a:{PLAIN}1\n");
  CHECK(db.user_count() == 1);
}

TEST_CASE("a broken file at startup is an error naming the line") {
  testing::temp_dir dir;
  write(dir / "users", "a:{PLAIN}1\nb:{NOPE}2\n");
  CHECK_THROWS_WITH(user_db(dir / "users"), Catch::Contains("users: line 2:"));
}

TEST_CASE("reload: changes are picked up, a broken file keeps the last good table") {
  testing::temp_dir dir;
  const auto file = dir / "users";
  write(file, "a:{PLAIN}1\n");
  user_db db(file, 0s);
  auto first = db.table();
  CHECK(first->size() == 1);

  write(file, "a:{PLAIN}1\nb:{PLAIN}2\n");
  CHECK(db.user_count() == 2);
  CHECK(db.authenticate("b", "2"));
  CHECK(first->size() == 1);  // tables in use never change

  write(file, "a:{PLAIN}1\nb:{PLAIN}2\nbroken line\n");
  CHECK(db.user_count() == 2);
  CHECK(db.authenticate("b", "2"));

  write(file, "a:{PLAIN}9\n");
  CHECK(db.user_count() == 1);
  CHECK(db.authenticate("a", "9"));
  CHECK_FALSE(db.authenticate("b", "2"));

  std::filesystem::remove(file);
  CHECK(db.user_count() == 0);
}

TEST_CASE("reload: an in-place rewrite of a different size is picked up") {
  testing::temp_dir dir;
  const auto file = dir / "users";
  std::ofstream(file) << "a:{PLAIN}1\n";
  user_db db(file, 0s);
  std::ofstream(file, std::ios::trunc) << "a:{PLAIN}1\nb:{PLAIN}22\n";
  CHECK(db.user_count() == 2);
}

TEST_CASE("the file is checked at most once per interval") {
  testing::temp_dir dir;
  const auto file = dir / "users";
  write(file, "a:{PLAIN}1\n");
  user_db db(file, 1h);
  write(file, "a:{PLAIN}1\nb:{PLAIN}2\n");
  CHECK(db.user_count() == 1);  // not yet: the interval has not passed
  CHECK(db.reload_if_changed());
  CHECK(db.user_count() == 2);
  CHECK_FALSE(db.reload_if_changed());  // unchanged
}

TEST_CASE("authenticate_user returns the canonical name; a login may be an address") {
  testing::temp_dir dir;
  write(dir / "users", "Alice:{PLAIN}pw\nBob@Example.com:{PLAIN}b\n");
  {
    user_db db(dir / "users", 0s);
    CHECK(db.authenticate_user("alice", "pw") == "alice");
    CHECK(db.authenticate_user("ALICE@example.net", "pw") == "alice");  // no domains: all local
    CHECK(db.authenticate_user("bob@example.com", "b") == "bob@example.com");
    CHECK(db.authenticate_user("BOB@EXAMPLE.COM", "b") == "bob@example.com");
    CHECK_FALSE(db.authenticate_user("bob", "b"));  // "bob" alone is not a user
    CHECK_FALSE(db.authenticate_user("alice@example.net", "PW"));
    CHECK_FALSE(db.authenticate_user("carol", "pw"));
    CHECK(db.authenticate("alice@x", "pw"));
    CHECK(db.resolve_login("Alice@Example.com") == "alice");
    CHECK_FALSE(db.resolve_login("nobody"));
  }
  address_rules rules;
  rules.local_domains = {"example.com"};
  user_db db(dir / "users", 0s, rules);
  CHECK(db.authenticate_user("alice@EXAMPLE.com", "pw") == "alice");
  CHECK_FALSE(db.authenticate_user("alice@example.net", "pw"));
  CHECK(db.authenticate_user("alice", "pw") == "alice");
}

TEST_CASE("resolve_recipient follows the users file and the rules") {
  testing::temp_dir dir;
  const auto file = dir / "users";
  write(file, "alice:{PLAIN}pw\n");
  user_db db(file, 0s);
  CHECK(db.resolve_recipient("alice+work", "example.com") ==
        mapped_recipient{"alice", std::string("work")});
  CHECK_FALSE(db.resolve_recipient("bob", "example.com"));
  write(file, "alice:{PLAIN}pw\nbob:{PLAIN}pw\n");
  CHECK(db.resolve_recipient("Bob", "") == mapped_recipient{"bob", std::nullopt});

  auto users = std::make_shared<user_db>(file, 0s);
  const auto resolve = lmtp_recipient_resolver(users);
  const auto found = resolve("alice+x", "example.com");
  REQUIRE(std::holds_alternative<packmail::protocols::lmtp::recipient>(found));
  CHECK(std::get<packmail::protocols::lmtp::recipient>(found).user == "alice");
  CHECK(std::get<packmail::protocols::lmtp::recipient>(found).folder == "x");
  CHECK(std::holds_alternative<packmail::protocols::lmtp::unknown_recipient>(
      resolve("carol", "example.com")));
}
