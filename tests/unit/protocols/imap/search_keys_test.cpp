#include <catch2/catch.hpp>

#include "packmail/protocols/imap/search_keys.h"
#include "typed_support.h"

using namespace packmail::protocols::imap;
using packmail::protocols::imap::testing::parse_command;
using kind = search_key::kind;

namespace {
search_request search(std::string_view line) {
  command c = parse_command(line);
  auto r = parse_search(c.args);
  INFO(line);
  if (!r.ok()) FAIL(r.error().message);
  return std::move(r).value();
}
bool search_fails(std::string_view line) {
  command c = parse_command(line);
  return !parse_search(c.args).ok();
}
// A compact rendering of a key tree, to compare whole expressions.
std::string show(const search_key& k) {
  switch (k.what) {
    case kind::all_of: {
      std::string out = "(";
      for (std::size_t i = 0; i < k.children.size(); ++i) {
        out += (i ? " " : "") + show(k.children[i]);
      }
      return out + ")";
    }
    case kind::not_:
      return "NOT " + show(k.children[0]);
    case kind::or_:
      return "OR " + show(k.children[0]) + " " + show(k.children[1]);
    case kind::from:
      return "FROM:" + k.text;
    case kind::subject:
      return "SUBJECT:" + k.text;
    case kind::header:
      return "HEADER:" + k.text + "=" + k.value;
    case kind::since:
      return "SINCE:" + std::to_string(k.date.year) + "/" + std::to_string(k.date.month) + "/" +
             std::to_string(k.date.day);
    case kind::uid:
      return "UID:" + std::to_string(k.set.elements().size());
    case kind::sequence_numbers:
      return "SEQ:" + std::to_string(k.set.elements().size());
    case kind::larger:
      return "LARGER:" + std::to_string(k.number);
    case kind::keyword:
      return "KEYWORD:" + k.text;
    case kind::seen:
      return "SEEN";
    case kind::deleted:
      return "DELETED";
    case kind::all:
      return "ALL";
    default:
      return "?" + std::to_string(static_cast<int>(k.what));
  }
}
}  // namespace

TEST_CASE("every RFC 3501 search key") {
  const auto r = search(
      "a SEARCH ALL ANSWERED BCC b BEFORE 1-Feb-1994 BODY x CC c DELETED DRAFT FLAGGED FROM f "
      "HEADER X-Y v KEYWORD $Junk LARGER 10 NEW NOT SEEN OLD ON \"01-Jan-2000\" OR SEEN DRAFT "
      "RECENT SEEN SENTBEFORE 2-Mar-2001 SENTON 3-Apr-2002 SENTSINCE 4-May-2003 SINCE 5-Jun-2004 "
      "SMALLER 20 SUBJECT s TEXT t TO u UID 1:* UNANSWERED UNDELETED UNDRAFT UNFLAGGED "
      "UNKEYWORD foo UNSEEN 2,4:5\r\n");
  const std::vector<kind> expected = {
      kind::all,         kind::answered,     kind::bcc,        kind::before,
      kind::body,        kind::cc,           kind::deleted,    kind::draft,
      kind::flagged,     kind::from,         kind::header,     kind::keyword,
      kind::larger,      kind::new_messages, kind::not_,       kind::old,
      kind::on,          kind::or_,          kind::recent,     kind::seen,
      kind::sent_before, kind::sent_on,      kind::sent_since, kind::since,
      kind::smaller,     kind::subject,      kind::text,       kind::to,
      kind::uid,         kind::unanswered,   kind::undeleted,  kind::undraft,
      kind::unflagged,   kind::unkeyword,    kind::unseen,     kind::sequence_numbers};
  std::vector<kind> got;
  for (const auto& k : r.key.children) got.push_back(k.what);
  CHECK(got == expected);
  const auto& keys = r.key.children;
  CHECK(keys[2].text == "b");
  CHECK(keys[3].date == date{1994, 2, 1});
  CHECK(keys[10].text == "X-Y");
  CHECK(keys[10].value == "v");
  CHECK(keys[12].number == 10);
  CHECK(keys[16].date == date{2000, 1, 1});
  CHECK(keys[24].number == 20);
  CHECK(keys[33].text == "foo");
}

TEST_CASE("OR, NOT and parenthesized groups nest") {
  CHECK(show(search("a SEARCH OR (FROM bob SINCE 1-Feb-1994) NOT SUBJECT hi\r\n").key) ==
        "(OR (FROM:bob SINCE:1994/2/1) NOT SUBJECT:hi)");
  CHECK(show(search("a SEARCH NOT NOT (OR SEEN (DELETED) OR ALL LARGER 5) 1:3\r\n").key) ==
        "(NOT NOT (OR SEEN (DELETED) OR ALL LARGER:5) SEQ:1)");
  CHECK(show(search("a SEARCH OR OR SEEN DELETED FROM x UID $\r\n").key) ==
        "(OR OR SEEN DELETED FROM:x UID:0)");
}

TEST_CASE("strings may be quoted or literals") {
  const auto r = search("a SEARCH CHARSET UTF-8 SUBJECT {4+}\r\ncaf\xc3 FROM \"a b\"\r\n");
  CHECK(r.charset == "UTF-8");
  CHECK(r.key.children[0].text == "caf\xc3");
  CHECK(r.key.children[1].text == "a b");
  CHECK(search("a SEARCH HEADER \"Message-ID\" \"\"\r\n").key.children[0].value.empty());
}

TEST_CASE("sequence sets, $ and UID") {
  const auto r = search("a UID SEARCH 1:5,* $ UID 7\r\n");
  REQUIRE(r.key.children.size() == 3);
  CHECK(r.key.children[0].set.uses_star());
  CHECK(r.key.children[1].set.uses_saved_result());
  CHECK(r.key.children[2].set.elements()[0].from == 7);
}

TEST_CASE("RETURN options (RFC 4731) and MODSEQ (RFC 7162)") {
  auto r = search("a SEARCH RETURN (MIN count SAVE) CHARSET US-ASCII MODSEQ 620162338\r\n");
  CHECK(r.has_return);
  CHECK(r.return_options == std::vector<std::string>{"MIN", "COUNT", "SAVE"});
  CHECK(r.charset == "US-ASCII");
  CHECK(r.key.children[0].what == kind::modseq);
  CHECK(r.key.children[0].number == 620162338u);
  r = search("a SEARCH RETURN () MODSEQ \"/flags/\\\\draft\" all 620162338\r\n");
  CHECK(r.has_return);
  CHECK(r.return_options.empty());
  CHECK(r.key.children[0].text == "/flags/\\draft");
  CHECK(r.key.children[0].value == "ALL");
}

TEST_CASE("invalid searches") {
  for (std::string_view bad : {
           "a SEARCH\r\n",
           "a SEARCH CHARSET UTF-8\r\n",
           "a SEARCH FOO\r\n",
           "a SEARCH FROM\r\n",
           "a SEARCH FROM (x)\r\n",
           "a SEARCH NOT\r\n",
           "a SEARCH OR SEEN\r\n",
           "a SEARCH ()\r\n",
           "a SEARCH (SEEN FOO)\r\n",
           "a SEARCH SINCE 31-Feb-2020\r\n",
           "a SEARCH SINCE 1-Foo-2020\r\n",
           "a SEARCH SINCE 1-Feb-20\r\n",
           "a SEARCH SINCE 123-Feb-2020\r\n",
           "a SEARCH SINCE Feb-1-2020\r\n",
           "a SEARCH LARGER x\r\n",
           "a SEARCH LARGER\r\n",
           "a SEARCH UID\r\n",
           "a SEARCH UID 0\r\n",
           "a SEARCH 1:0\r\n",
           "a SEARCH KEYWORD \"x\"\r\n",
           "a SEARCH HEADER x\r\n",
           "a SEARCH RETURN (FOO) ALL\r\n",
           "a SEARCH MODSEQ \"/flags/x\" nope 5\r\n",
           "a SEARCH \"ALL\"\r\n",
       }) {
    INFO(bad);
    CHECK(search_fails(bad));
  }
}

TEST_CASE("leap days") {
  CHECK(search("a SEARCH ON 29-Feb-2000\r\n").key.children[0].date == date{2000, 2, 29});
  CHECK(search_fails("a SEARCH ON 29-Feb-1900\r\n"));
  CHECK(search("a SEARCH ON 29-feb-2024\r\n").key.children[0].date == date{2024, 2, 29});
}

TEST_CASE("deep nesting is refused, not recursed into without bound") {
  std::string line = "a SEARCH";
  for (std::size_t i = 0; i < k_max_search_depth + 1; ++i) line += " NOT";
  CHECK(search_fails(line + " SEEN\r\n"));
  std::string ok = "a SEARCH";
  for (std::size_t i = 0; i < k_max_search_depth - 1; ++i) ok += " NOT";
  CHECK_FALSE(search_fails(ok + " SEEN\r\n"));
}
