// How addresses name passwd-file users (server/users/recipient_map.h): full
// address names, local parts in local domains, the recipient delimiter with
// folders, case-insensitivity, and login names.
#include "users/recipient_map.h"

#include <catch2/catch.hpp>

using namespace packmail::server;

namespace {

passwd_table table(std::string_view text) {
  auto parsed = parse_passwd_file(text);
  REQUIRE(parsed.ok());
  return std::move(parsed.table);
}

std::optional<mapped_recipient> map(const passwd_table& t, const address_rules& rules,
                                    std::string_view local, std::string_view domain) {
  return map_recipient(t, rules, local, domain);
}

mapped_recipient user(std::string name, std::optional<std::string> folder = std::nullopt) {
  return {std::move(name), std::move(folder)};
}

}  // namespace

TEST_CASE("a plain user gets mail for any domain when no local domains are configured") {
  const auto t = table("alice:{PLAIN}x\n");
  const address_rules rules;
  CHECK(map(t, rules, "alice", "example.com") == user("alice"));
  CHECK(map(t, rules, "alice", "other.org") == user("alice"));
  CHECK(map(t, rules, "alice", "") == user("alice"));  // a bare local part
  CHECK_FALSE(map(t, rules, "bob", "example.com"));
  CHECK_FALSE(map(t, rules, "", "example.com"));
}

TEST_CASE("with local domains, a plain user gets mail only for those") {
  const auto t = table("alice:{PLAIN}x\n");
  address_rules rules;
  rules.local_domains = {"example.com", "Example.ORG"};
  CHECK(map(t, rules, "alice", "example.com") == user("alice"));
  CHECK(map(t, rules, "alice", "EXAMPLE.COM") == user("alice"));
  CHECK(map(t, rules, "alice", "example.org") == user("alice"));
  CHECK_FALSE(map(t, rules, "alice", "example.net"));
  CHECK_FALSE(map(t, rules, "alice", "sub.example.com"));
  CHECK(map(t, rules, "alice", "") == user("alice"));
  CHECK(rules.is_local_domain("Example.Com"));
  CHECK_FALSE(rules.is_local_domain(""));
}

TEST_CASE("a user named by full address gets that address only, in any case") {
  const auto t = table("Carol@Example.com:{PLAIN}x\n");
  address_rules rules;
  CHECK(map(t, rules, "carol", "example.com") == user("carol@example.com"));
  CHECK(map(t, rules, "CAROL", "EXAMPLE.COM") == user("carol@example.com"));
  CHECK_FALSE(map(t, rules, "carol", "example.org"));
  CHECK_FALSE(map(t, rules, "carol", ""));
  // Local domains do not restrict full-address users.
  rules.local_domains = {"elsewhere.net"};
  CHECK(map(t, rules, "carol", "example.com") == user("carol@example.com"));
}

TEST_CASE("the full address wins over the local part") {
  const auto t = table("alice:{PLAIN}x\nalice@example.com:{PLAIN}y\n");
  const address_rules rules;
  CHECK(map(t, rules, "alice", "example.com") == user("alice@example.com"));
  CHECK(map(t, rules, "alice", "example.org") == user("alice"));
  CHECK(map(t, rules, "Alice", "") == user("alice"));
}

TEST_CASE("the delimiter names a folder: alice+work@example.com") {
  const auto t = table("alice:{PLAIN}x\ndave@example.com:{PLAIN}y\n");
  address_rules rules;
  CHECK(map(t, rules, "alice+work", "example.com") == user("alice", "work"));
  CHECK(map(t, rules, "Alice+Work", "example.com") == user("alice", "Work"));  // folder case kept
  CHECK(map(t, rules, "alice+work", "") == user("alice", "work"));
  CHECK(map(t, rules, "alice+a+b", "x.org") == user("alice", "a+b"));  // split at the first
  CHECK(map(t, rules, "alice+lists/dev", "x.org") == user("alice", "lists/dev"));
  CHECK(map(t, rules, "alice+", "x.org") == user("alice"));  // empty folder: none
  CHECK_FALSE(map(t, rules, "+alice", "x.org"));
  CHECK(map(t, rules, "dave+news", "example.com") == user("dave@example.com", "news"));
  CHECK_FALSE(map(t, rules, "dave+news", "example.org"));
  CHECK_FALSE(map(t, rules, "bob+work", "example.com"));

  rules.local_domains = {"example.com"};
  CHECK(map(t, rules, "alice+work", "example.com") == user("alice", "work"));
  CHECK_FALSE(map(t, rules, "alice+work", "example.net"));
}

TEST_CASE("the candidates are tried in order") {
  // alice+work@example.com, then alice@example.com (folder work), then the
  // local parts alice+work and alice (folder work).
  address_rules rules;
  CHECK(map(table("alice+work@example.com:{PLAIN}x\nalice@example.com:{PLAIN}x\n"
                  "alice+work:{PLAIN}x\nalice:{PLAIN}x\n"),
            rules, "alice+work", "example.com") == user("alice+work@example.com"));
  CHECK(map(table("alice@example.com:{PLAIN}x\nalice+work:{PLAIN}x\nalice:{PLAIN}x\n"), rules,
            "alice+work", "example.com") == user("alice@example.com", "work"));
  CHECK(map(table("alice+work:{PLAIN}x\nalice:{PLAIN}x\n"), rules, "alice+work", "example.com") ==
        user("alice+work"));
  CHECK(map(table("alice:{PLAIN}x\n"), rules, "alice+work", "example.com") ==
        user("alice", "work"));
}

TEST_CASE("another delimiter, several delimiters, or none") {
  const auto t = table("alice:{PLAIN}x\nalice+work:{PLAIN}x\n");
  address_rules rules;
  rules.recipient_delimiter = "-";
  CHECK(map(t, rules, "alice-work", "x.org") == user("alice", "work"));
  CHECK(map(t, rules, "alice+work", "x.org") == user("alice+work"));
  rules.recipient_delimiter = "+-";
  CHECK(map(t, rules, "alice-news", "x.org") == user("alice", "news"));
  CHECK(map(t, rules, "alice+news", "x.org") == user("alice", "news"));
  rules.recipient_delimiter = "";
  CHECK_FALSE(map(t, rules, "alice-news", "x.org"));
  CHECK(map(t, rules, "alice+work", "x.org") == user("alice+work"));
  CHECK_FALSE(map(t, rules, "alice+news", "x.org"));
}

TEST_CASE("login names use the address rules without the delimiter") {
  const auto t = table("alice:{PLAIN}x\nbob@example.com:{PLAIN}y\n");
  address_rules rules;
  auto login = [&](std::string_view name) -> std::string {
    const passwd_entry* e = find_login_user(t, rules, name);
    return e ? e->user : "-";
  };
  CHECK(login("alice") == "alice");
  CHECK(login("ALICE") == "alice");
  CHECK(login("alice@example.org") == "alice");
  CHECK(login("bob@EXAMPLE.com") == "bob@example.com");
  CHECK(login("bob") == "-");
  CHECK(login("alice+work") == "-");
  CHECK(login("alice@") == "-");
  CHECK(login("@example.org") == "-");
  rules.local_domains = {"example.com"};
  CHECK(login("alice@example.org") == "-");
  CHECK(login("alice@example.com") == "alice");
  CHECK(find_address_user(t, rules, "bob", "example.com") != nullptr);
}
