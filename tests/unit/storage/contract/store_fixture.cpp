#include "store_fixture.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace packmail::storage::test {

std::string backend_name() {
  const char* name = std::getenv("PACKMAIL_TEST_BACKEND");
  return name && *name ? name : "memory";
}

store_fixture::store_fixture() : backend_(backend_name()) {
  if (backend_ == "segment") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "packmail-contract-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    dir_ = pattern;
  } else if (backend_ != "memory") {
    throw std::runtime_error("PACKMAIL_TEST_BACKEND must be memory or segment, not " + backend_);
  }
  open();
}

store_fixture::~store_fixture() {
  store_.reset();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void store_fixture::open() {
  if (backend_ == "memory") {
    store_ = open_memory_store();
    return;
  }
  auto opened = open_segment_store(segment_options{.path = dir_, .sync = false});
  if (!opened) throw std::runtime_error("open_segment_store: " + opened.error().to_string());
  store_ = std::move(opened).value();
}

void store_fixture::reopen() {
  if (backend_ == "memory") return;
  store_.reset();
  open();
}

user_id store_fixture::make_user(std::string_view name) {
  auto id = store_->ensure_user(name);
  REQUIRE(id.error().to_string() == "ok");
  return *id;
}

mailbox_info store_fixture::mailbox(user_id user, std::string_view name) {
  auto info = store_->get_mailbox(user, name);
  REQUIRE(info.error().to_string() == "ok");
  return *info;
}

mailbox_info store_fixture::mailbox(mailbox_id id) {
  auto info = store_->get_mailbox(id);
  REQUIRE(info.error().to_string() == "ok");
  return *info;
}

mailbox_info store_fixture::make_mailbox(user_id user, std::string_view name) {
  auto info = store_->create_mailbox(user, name);
  REQUIRE(info.error().to_string() == "ok");
  return *info;
}

appended store_fixture::append_one(mailbox_id mailbox, std::string_view message, std::uint8_t flags,
                                   std::vector<std::string> keywords, std::string prefix) {
  append_request request;
  request.message = message;
  request.targets.push_back({mailbox, flags, std::move(keywords), std::move(prefix)});
  auto done = store_->append(request);
  REQUIRE(done.error().to_string() == "ok");
  REQUIRE(done->size() == 1);
  return done->front();
}

result<std::vector<appended>> store_fixture::append_quietly(mailbox_id mailbox,
                                                            std::string_view message) {
  append_request request;
  request.message = message;
  request.targets.push_back({mailbox, 0, {}, {}});
  return store_->append(request);
}

std::vector<imap_uid> store_fixture::append_many(mailbox_id mailbox, int count) {
  std::vector<imap_uid> uids;
  for (int i = 0; i < count; ++i) {
    uids.push_back(append_one(mailbox, make_message("message " + std::to_string(i))).uid);
  }
  return uids;
}

std::vector<imap_uid> store_fixture::uids_of(mailbox_id mailbox) {
  auto messages = store_->list_messages(mailbox);
  REQUIRE(messages.error().to_string() == "ok");
  std::vector<imap_uid> uids;
  for (const auto& m : *messages) uids.push_back(m.uid);
  return uids;
}

std::string store_fixture::read_all(mailbox_id mailbox, imap_uid uid) {
  auto bytes = store_->read_message(mailbox, uid);
  REQUIRE(bytes.error().to_string() == "ok");
  return *bytes;
}

store_stats store_fixture::stats() {
  auto s = store_->stats();
  REQUIRE(s.error().to_string() == "ok");
  return *s;
}

std::string make_message(std::string_view subject, std::string_view body) {
  std::string m = "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: ";
  m += subject;
  m += "\r\nMessage-ID: <";
  m += std::to_string(std::hash<std::string_view>{}(subject));
  m += "@example.org>\r\n\r\n";
  m += body;
  return m;
}

}  // namespace packmail::storage::test
