#include "users/passwd_edit.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <thread>
#include <vector>

#include "temp_dir.h"
#include "users/passwd_file.h"

using namespace packmail::server;

TEST_CASE("add appends a line and keeps everything else") {
  const std::string text = "# team\nalice:{PLAIN}a:1000:100::/home/alice\n";
  const auto out = passwd_add_user(text, "bob", "{PLAIN}b");
  CHECK(out == text + "bob:{PLAIN}b\n");
  CHECK(passwd_add_user("alice:{PLAIN}a", "bob", "{PLAIN}b") == "alice:{PLAIN}a\nbob:{PLAIN}b\n");
  CHECK(passwd_add_user("", "bob", "{PLAIN}b") == "bob:{PLAIN}b\n");
}

TEST_CASE("add refuses an existing user in any case, and bad names") {
  CHECK_THROWS_AS(passwd_add_user("Alice:{PLAIN}a\n", "alice", "{PLAIN}b"), user_conflict);
  CHECK_THROWS_AS(passwd_add_user("", "a:b", "{PLAIN}b"), std::runtime_error);
  CHECK_THROWS_AS(passwd_add_user("", "", "{PLAIN}b"), std::runtime_error);
}

TEST_CASE("edits refuse a file that does not parse") {
  CHECK_THROWS_WITH(passwd_add_user("broken\n", "bob", "{PLAIN}b"), Catch::Contains("line 1"));
  CHECK_THROWS_WITH(passwd_remove_user("a:{PLAIN}a\nbroken\n", "a"), Catch::Contains("line 2"));
}

TEST_CASE("remove drops exactly the user's line") {
  const std::string text = "# c\nalice:{PLAIN}a\nbob:{PLAIN}b:1\ncarol:{PLAIN}c";
  CHECK(passwd_remove_user(text, "BOB") == "# c\nalice:{PLAIN}a\ncarol:{PLAIN}c");
  CHECK(passwd_remove_user(text, "carol") == "# c\nalice:{PLAIN}a\nbob:{PLAIN}b:1\n");
  CHECK_THROWS_AS(passwd_remove_user(text, "dave"), user_conflict);
}

TEST_CASE("set_password replaces only the password column") {
  const std::string text =
      "alice:{PLAIN}a:1000:100:A:/home/a:/bin/sh:x=1\nbob:{PLAIN}b\r\ncarol:{PLAIN}c";
  CHECK(passwd_set_password(text, "alice", "{PLAIN}new") ==
        "alice:{PLAIN}new:1000:100:A:/home/a:/bin/sh:x=1\nbob:{PLAIN}b\r\ncarol:{PLAIN}c");
  CHECK(passwd_set_password(text, "bob", "{PLAIN}new") ==
        "alice:{PLAIN}a:1000:100:A:/home/a:/bin/sh:x=1\nbob:{PLAIN}new\r\ncarol:{PLAIN}c");
  CHECK(passwd_set_password(text, "carol", "{PLAIN}new").ends_with("\ncarol:{PLAIN}new"));
  CHECK_THROWS_AS(passwd_set_password(text, "dave", "{PLAIN}x"), user_conflict);
}

TEST_CASE("edit_passwd_file writes atomically with mode 0600") {
  testing::temp_dir dir;
  const auto file = dir / "sub" / "users";  // the directory is created
  edit_passwd_file(file, [](std::string_view t) { return passwd_add_user(t, "a", "{PLAIN}1"); });
  CHECK(read_text_file(file) == "a:{PLAIN}1\n");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No temporary files are left behind (only the file and its lock).
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(file.parent_path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"users", "users.lock"});
}

TEST_CASE("a failing edit leaves the file untouched") {
  testing::temp_dir dir;
  const auto file = dir / "users";
  std::ofstream(file) << "a:{PLAIN}1\n";
  CHECK_THROWS_AS(edit_passwd_file(
                      file, [](std::string_view t) { return passwd_add_user(t, "A", "{PLAIN}2"); }),
                  user_conflict);
  CHECK(read_text_file(file) == "a:{PLAIN}1\n");
}

TEST_CASE("concurrent edits serialise on the lock: none is lost") {
  testing::temp_dir dir;
  const auto file = dir / "users";
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      edit_passwd_file(file, [&](std::string_view t) {
        return passwd_add_user(t, "user" + std::to_string(i), "{PLAIN}x");
      });
    });
  }
  for (auto& t : threads) t.join();
  const auto parsed = parse_passwd_file(read_text_file(file));
  CHECK(parsed.ok());
  CHECK(parsed.table.size() == 8);
}

TEST_CASE("read_text_file: a missing file is empty") {
  testing::temp_dir dir;
  CHECK(read_text_file(dir / "nope") == "");
}
