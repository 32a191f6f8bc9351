#include "data_dir/data_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "temp_dir.h"
#include "users/passwd_edit.h"

using namespace packmail::server;

TEST_CASE("a new data directory is created with FORMAT and a LOCK holding our pid") {
  testing::temp_dir dir;
  const auto data = dir / "a" / "data";
  {
    data_dir_lock lock(data);
    CHECK(read_text_file(data / "FORMAT") == "packmail-data 1\n");
    CHECK(read_text_file(data / "LOCK") == std::to_string(::getpid()) + "\n");
  }
  CHECK(read_text_file(data / "LOCK").empty());  // released and emptied
  data_dir_lock again(data);                     // reusable afterwards
}

TEST_CASE("a second lock on the same directory fails and names the holder's pid") {
  testing::temp_dir dir;
  data_dir_lock first(dir.path());
  CHECK_THROWS_WITH(
      data_dir_lock(dir.path()),
      Catch::Contains("data directory " + dir.path().string() +
                      " is locked by another packmaild (pid " + std::to_string(::getpid()) + ")"));
}

TEST_CASE("an existing directory with files but no FORMAT is claimed") {
  testing::temp_dir dir;
  std::ofstream(dir / "users") << "demo:{PLAIN}x\n";
  data_dir_lock lock(dir.path());
  CHECK(read_text_file(dir / "FORMAT") == "packmail-data 1\n");
}

TEST_CASE("a newer format version is refused") {
  testing::temp_dir dir;
  std::ofstream(dir / "FORMAT") << "packmail-data 2\n";
  CHECK_THROWS_WITH(data_dir_lock(dir.path()),
                    Catch::Equals("data directory " + dir.path().string() +
                                  " has format version 2, newer than this packmaild (1)"));
}

TEST_CASE("a malformed FORMAT file is refused") {
  for (const char* text : {"packmail-data\n", "packmail-data x\n", "maildir 1\n",
                           "packmail-data 0\n", "packmail-data 1 2\n"}) {
    INFO(text);
    testing::temp_dir dir;
    std::ofstream(dir / "FORMAT") << text;
    CHECK_THROWS_WITH(data_dir_lock(dir.path()), Catch::Contains("FORMAT"));
  }
}

TEST_CASE("the current format is accepted, with or without newline") {
  testing::temp_dir dir;
  std::ofstream(dir / "FORMAT") << "packmail-data 1";
  CHECK_NOTHROW(data_dir_lock(dir.path()));
}

TEST_CASE("a data directory that is a file is refused") {
  testing::temp_dir dir;
  std::ofstream(dir / "file") << "x";
  CHECK_THROWS_AS(data_dir_lock(dir / "file"), data_dir_error);
}

TEST_CASE("an unwritable data directory is refused") {
  if (::geteuid() == 0) {
    WARN("running as root: permissions do not apply, skipped");
    return;
  }
  testing::temp_dir dir;
  const auto data = dir / "ro";
  std::filesystem::create_directory(data);
  ::chmod(data.c_str(), 0500);
  CHECK_THROWS_WITH(data_dir_lock(data), Catch::Contains("not readable and writable"));
  ::chmod(data.c_str(), 0700);
}
