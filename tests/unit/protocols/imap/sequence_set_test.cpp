#include <catch2/catch.hpp>

#include "packmail/protocols/imap/sequence_set.h"

using namespace packmail::protocols::imap;
using Ranges = std::vector<sequence_range>;

namespace {
Ranges resolve(std::string_view text, std::uint32_t largest, Ranges saved = {}) {
  auto set = sequence_set::parse(text);
  REQUIRE(set.ok());
  return set.value().resolve(largest, saved);
}
}  // namespace

TEST_CASE("numbers, ranges and star") {
  auto set = sequence_set::parse("1:*,3,5:7");
  REQUIRE(set.ok());
  CHECK(set.value().elements() ==
        std::vector<sequence_set::element>{{1, sequence_set::k_star}, {3, 3}, {5, 7}});
  CHECK(set.value().uses_star());
  CHECK_FALSE(set.value().uses_saved_result());
  CHECK(resolve("1:*,3,5:7", 10) == Ranges{{1, 10}});
  CHECK(resolve("2,4:6,9", 10) == Ranges{{2, 2}, {4, 6}, {9, 9}});
  CHECK(resolve("*", 42) == Ranges{{42, 42}});
}

TEST_CASE("ranges are unordered and merged") {
  CHECK(resolve("7:5", 10) == Ranges{{5, 7}});
  CHECK(resolve("5,4,3,10:8,1", 10) == Ranges{{1, 1}, {3, 5}, {8, 10}});
  CHECK(resolve("4294967295,1:4294967295", 3) == Ranges{{1, 4294967295u}});
}

TEST_CASE("n:* above the largest number still names the largest (RFC 3501 6.4.8)") {
  CHECK(resolve("20:*", 13) == Ranges{{13, 20}});
  CHECK(resolve("*:20", 13) == Ranges{{13, 20}});
}

TEST_CASE("star in an empty mailbox") {
  CHECK(resolve("*", 0).empty());
  CHECK(resolve("3,*", 0) == Ranges{{3, 3}});
}

TEST_CASE("$ is the saved search result (RFC 5182)") {
  auto set = sequence_set::parse("$");
  REQUIRE(set.ok());
  CHECK(set.value().uses_saved_result());
  CHECK(set.value().elements().empty());
  CHECK(resolve("$", 10, Ranges{{2, 3}, {7, 7}}) == Ranges{{2, 3}, {7, 7}});
  CHECK(resolve("$", 10).empty());
  CHECK(resolve("1,$", 10, Ranges{{2, 3}}) == Ranges{{1, 3}});
}

TEST_CASE("contains") {
  const Ranges r = resolve("2:4,8", 10);
  CHECK_FALSE(contains(r, 1));
  CHECK(contains(r, 2));
  CHECK(contains(r, 4));
  CHECK_FALSE(contains(r, 5));
  CHECK(contains(r, 8));
  CHECK_FALSE(contains(r, 9));
  CHECK_FALSE(contains(Ranges{}, 1));
}

TEST_CASE("invalid sequence sets") {
  for (std::string_view bad : {"", "0", "1:0", "01", "1,", ",1", "1::2", "1:", ":1", "a", "1-3",
                               "4294967296", "1:4294967296", "**", "$$", "1 2", "-1", "1,,2"}) {
    INFO(bad);
    CHECK_FALSE(sequence_set::parse(bad).ok());
  }
}
