// Fixture of the storage contract suite: a fresh store of the backend named by
// PACKMAIL_TEST_BACKEND ("memory", the default, or "segment") for each test
// case, plus small helpers shared by the test files.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "packmail/storage/store.h"

namespace Catch {
template <>
struct StringMaker<packmail::storage::errc> {
  static std::string convert(packmail::storage::errc code) {
    return std::string(packmail::storage::to_string(code));
  }
};
}  // namespace Catch

namespace packmail::storage::test {

// "memory" or "segment".
std::string backend_name();

class store_fixture {
 public:
  store_fixture();
  ~store_fixture();
  store_fixture(const store_fixture&) = delete;
  store_fixture& operator=(const store_fixture&) = delete;

  mail_store& store() { return *store_; }
  // Closes and reopens the store on the same data: for memory the store stays
  // as it is (nothing to reopen); for segment the store is destroyed and the
  // same directory opened again. Watch handles must be gone before.
  void reopen();

  // Helpers that REQUIRE success.
  user_id make_user(std::string_view name = "alice");
  mailbox_info mailbox(user_id user, std::string_view name);
  mailbox_info mailbox(mailbox_id id);
  mailbox_info make_mailbox(user_id user, std::string_view name);
  appended append_one(mailbox_id mailbox, std::string_view message, std::uint8_t flags = 0,
                      std::vector<std::string> keywords = {}, std::string prefix = {});
  // Appends one message without Catch assertions, which are not thread-safe:
  // for use on other threads.
  result<std::vector<appended>> append_quietly(mailbox_id mailbox, std::string_view message);
  // Appends `count` messages; returns their UIDs.
  std::vector<imap_uid> append_many(mailbox_id mailbox, int count);
  std::vector<imap_uid> uids_of(mailbox_id mailbox);
  std::string read_all(mailbox_id mailbox, imap_uid uid);
  store_stats stats();

 private:
  void open();

  std::string backend_;
  std::filesystem::path dir_;  // segment only
  std::unique_ptr<mail_store> store_;
};

// A small RFC 5322 message with CRLF line ends.
std::string make_message(std::string_view subject, std::string_view body = "Hello.\r\n");

}  // namespace packmail::storage::test
