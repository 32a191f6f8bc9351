// Contract: MODSEQ order, the changes_since journal, and watch() callbacks.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store_fixture.h"

namespace packmail::storage::test {
namespace {

using namespace std::chrono_literals;
constexpr auto k_deadline = 10s;

// Records callbacks; waits for a condition with a deadline instead of sleeping.
class callback_log {
 public:
  change_callback callback() {
    return [this](mailbox_id mailbox, modseq_t highest) {
      std::lock_guard lock(mutex_);
      calls_.push_back({mailbox, highest, std::this_thread::get_id()});
      changed_.notify_all();
    };
  }
  struct call {
    mailbox_id mailbox;
    modseq_t highest;
    std::thread::id thread;
  };
  // True once some call satisfies `pred`; false at the deadline.
  template <class Pred>
  bool wait_for_call(Pred pred) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, k_deadline, [&] {
      for (const call& c : calls_) {
        if (pred(c)) return true;
      }
      return false;
    });
  }
  std::vector<call> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<call> calls_;
};

// RFC 7162: MODSEQ is per mailbox; a backend may also use one counter for
// the whole store, so only the order within a mailbox is the contract.
TEST_CASE_METHOD(store_fixture, "every mutation gets a modseq above all before it in its mailbox",
                 "[modseq]") {
  const user_id alice = make_user();
  const mailbox_id a = mailbox(alice, "INBOX").id;
  const mailbox_id b = make_mailbox(alice, "b").id;
  std::map<mailbox_id, modseq_t> highest{{a, mailbox(a).highest_modseq},
                                         {b, mailbox(b).highest_modseq}};
  auto expect_higher = [&](modseq_t modseq, mailbox_id touched) {
    CHECK(modseq > highest[touched]);
    CHECK(mailbox(touched).highest_modseq == modseq);
    highest[touched] = modseq;
  };

  expect_higher(append_one(a, make_message("1")).modseq, a);
  expect_higher(append_one(b, make_message("2")).modseq, b);
  expect_higher(append_one(a, make_message("3")).modseq, a);
  const imap_uid one[] = {1};
  auto flagged = store().store_flags(a, one, {flag_op::add, flag_seen, {}, {}});
  REQUIRE(flagged.ok());
  expect_higher(flagged->changed.at(0).modseq, a);
  auto copied = store().copy(a, one, b, false);
  REQUIRE(copied.ok());
  expect_higher(store().get_message(b, copied->uids.at(0).second)->modseq, b);
  REQUIRE(store().expunge(b, one).ok());
  expect_higher(mailbox(b).highest_modseq, b);
  CHECK(store().get_message(a, 1)->modseq == flagged->changed.at(0).modseq);

  reopen();
  expect_higher(append_one(b, make_message("after reopen")).modseq, b);
}

TEST_CASE_METHOD(store_fixture, "changes_since returns the journal after a modseq", "[changes]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  const modseq_t start = mailbox(inbox).highest_modseq;
  const modseq_t m1 = append_one(inbox, make_message("1")).modseq;
  const modseq_t m2 = append_one(inbox, make_message("2")).modseq;
  const modseq_t m3 = append_one(inbox, make_message("3")).modseq;
  const imap_uid first_and_third[] = {3, 1};
  auto flagged = store().store_flags(inbox, first_and_third, {flag_op::add, flag_seen, {}, {}});
  REQUIRE(flagged.ok());
  const modseq_t m4 = flagged->changed.at(0).modseq;
  const imap_uid second[] = {2};
  REQUIRE(store().expunge(inbox, second).ok());
  const modseq_t m5 = mailbox(inbox).highest_modseq;

  auto as_tuples = [](const std::vector<change>& changes) {
    std::vector<std::tuple<modseq_t, change_kind, imap_uid>> out;
    for (const change& c : changes) out.emplace_back(c.modseq, c.kind, c.uid);
    return out;
  };
  using row = std::tuple<modseq_t, change_kind, imap_uid>;
  const std::vector<row> all{{m1, change_kind::append, 1}, {m2, change_kind::append, 2},
                             {m3, change_kind::append, 3}, {m4, change_kind::flags, 1},
                             {m4, change_kind::flags, 3},  {m5, change_kind::expunge, 2}};

  auto from_start = store().changes_since(inbox, start);
  REQUIRE(from_start.ok());
  CHECK(as_tuples(*from_start) == all);
  auto from_zero = store().changes_since(inbox, 0);
  REQUIRE(from_zero.ok());
  CHECK(as_tuples(*from_zero) == all);
  auto after_m3 = store().changes_since(inbox, m3);
  REQUIRE(after_m3.ok());
  CHECK(as_tuples(*after_m3) == std::vector<row>(all.begin() + 3, all.end()));
  auto none = store().changes_since(inbox, m5);
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK(store().changes_since(mailbox_id{987654321}, 0).code() == errc::not_found);

  reopen();
  auto reopened = store().changes_since(inbox, start);
  REQUIRE(reopened.ok());
  CHECK(as_tuples(*reopened) == all);
}

TEST_CASE_METHOD(store_fixture, "watch calls back after a commit on another thread", "[watch]") {
  const user_id alice = make_user();
  const mailbox_id inbox = mailbox(alice, "INBOX").id;
  const mailbox_id other = make_mailbox(alice, "other").id;
  callback_log log;
  callback_log second_log;
  callback_log other_log;
  auto handle = store().watch(inbox, log.callback());
  auto second_handle = store().watch(inbox, second_log.callback());
  auto other_handle = store().watch(other, other_log.callback());
  REQUIRE(handle);

  const std::string message = make_message("watched");
  std::optional<result<std::vector<appended>>> outcome;
  std::thread::id writer_id;
  std::thread writer([&] {
    writer_id = std::this_thread::get_id();
    outcome = append_quietly(inbox, message);
  });
  writer.join();
  REQUIRE(outcome->error().to_string() == "ok");
  const appended done = outcome->value().at(0);

  CHECK(log.wait_for_call(
      [&](const callback_log::call& c) { return c.mailbox == inbox && c.highest >= done.modseq; }));
  CHECK(second_log.wait_for_call([&](const callback_log::call& c) { return c.mailbox == inbox; }));
  for (const auto& c : log.calls()) {
    CHECK(c.mailbox == inbox);
    CHECK(c.thread == writer_id);  // on the committing thread
  }
  CHECK(other_log.calls().empty());

  // Flag changes and expunges are announced too.
  const imap_uid uid[] = {done.uid};
  auto flagged = store().store_flags(inbox, uid, {flag_op::add, flag_seen, {}, {}});
  REQUIRE(flagged.ok());
  const modseq_t flag_modseq = flagged->changed.at(0).modseq;
  CHECK(log.wait_for_call([&](const callback_log::call& c) { return c.highest >= flag_modseq; }));
  REQUIRE(store().expunge(inbox, uid).ok());
  const modseq_t expunge_modseq = mailbox(inbox).highest_modseq;
  CHECK(
      log.wait_for_call([&](const callback_log::call& c) { return c.highest >= expunge_modseq; }));
  CHECK(other_log.calls().empty());

  // A move announces both mailboxes.
  append_one(other, make_message("moving"));
  CHECK(other_log.wait_for_call([&](const callback_log::call&) { return true; }));
  const imap_uid first[] = {1};
  REQUIRE(store().copy(other, first, inbox, true).ok());
  const modseq_t move_modseq = mailbox(inbox).highest_modseq;
  const modseq_t other_move_modseq = mailbox(other).highest_modseq;
  CHECK(log.wait_for_call([&](const callback_log::call& c) { return c.highest >= move_modseq; }));
  CHECK(other_log.wait_for_call(
      [&](const callback_log::call& c) { return c.highest >= other_move_modseq; }));
}

TEST_CASE_METHOD(store_fixture, "a copy announces the destination, not the source",
                 "[watch][copy]") {
  const user_id alice = make_user();
  const mailbox_id source = mailbox(alice, "INBOX").id;
  const mailbox_id dest = make_mailbox(alice, "dest").id;
  append_one(source, make_message("copied"));
  const modseq_t source_before = mailbox(source).highest_modseq;
  callback_log source_log;
  callback_log dest_log;
  auto source_handle = store().watch(source, source_log.callback());
  auto dest_handle = store().watch(dest, dest_log.callback());

  const imap_uid first[] = {1};
  REQUIRE(store().copy(source, first, dest, false).ok());
  CHECK(dest_log.wait_for_call([&](const callback_log::call& c) { return c.mailbox == dest; }));
  // Callbacks run on the committing thread before copy() returns (store.h), so
  // a call for the source would be in the log by now.
  CHECK(source_log.calls().empty());
  CHECK(mailbox(source).highest_modseq == source_before);
}

TEST_CASE_METHOD(store_fixture, "a callback may call the store (no lock is held)", "[watch]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  std::atomic<std::uint32_t> messages_seen{0};
  std::atomic<bool> called{false};
  auto handle = store().watch(inbox, [&](mailbox_id mailbox, modseq_t) {
    auto info = store().get_mailbox(mailbox);
    if (info.ok()) messages_seen = info->messages;
    auto listed = store().list_messages(mailbox);
    (void)listed;
    called = true;
  });
  append_one(inbox, make_message("reentrant"));
  CHECK(called);
  CHECK(messages_seen == 1);  // the commit is visible to the callback
}

TEST_CASE_METHOD(store_fixture, "destroying a handle waits for a running callback", "[watch]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  std::mutex mutex;
  std::condition_variable cv;
  bool entered = false;
  std::atomic<bool> finished{false};
  std::atomic<int> calls{0};
  auto handle = store().watch(inbox, [&](mailbox_id, modseq_t) {
    if (calls++ > 0) return;
    {
      std::lock_guard lock(mutex);
      entered = true;
    }
    cv.notify_all();
    // Stay inside long enough that the destructor surely overlaps.
    std::this_thread::sleep_for(200ms);
    finished = true;
  });
  const std::string message = make_message("slow callback");
  std::atomic<bool> appended_ok{false};
  std::thread writer([&] { appended_ok = append_quietly(inbox, message).ok(); });
  {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, k_deadline, [&] { return entered; }));
  }
  handle.reset();
  CHECK(finished);
  writer.join();
  CHECK(appended_ok);
  append_one(inbox, make_message("after reset"));
  CHECK(calls == 1);
}

TEST_CASE_METHOD(store_fixture, "no callback runs after its handle is destroyed", "[watch]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  std::atomic<int> late_calls{0};
  std::atomic<int> calls{0};
  const std::string message = make_message("churn");
  std::atomic<int> failures{0};
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    for (int i = 0; i < 400; ++i) {
      if (!append_quietly(inbox, message).ok()) ++failures;
    }
    writer_done = true;
  });
  // Keep watching and unwatching for as long as the writer commits.
  for (int i = 0; i < 100 || !writer_done; ++i) {
    auto destroyed = std::make_shared<std::atomic<bool>>(false);
    auto handle = store().watch(inbox, [destroyed, &late_calls, &calls](mailbox_id, modseq_t) {
      ++calls;
      if (*destroyed) ++late_calls;
    });
    std::this_thread::yield();
    handle.reset();
    *destroyed = true;
  }
  writer.join();
  CHECK(failures == 0);
  CHECK(calls > 0);  // the handles did overlap with commits
  CHECK(late_calls == 0);
}

TEST_CASE_METHOD(store_fixture, "a callback may destroy its own handle", "[watch]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  int calls = 0;
  std::unique_ptr<watch_handle> handle;
  handle = store().watch(inbox, [&](mailbox_id, modseq_t) {
    ++calls;
    handle.reset();
  });
  append_one(inbox, make_message("first"));
  append_one(inbox, make_message("second"));
  CHECK(calls == 1);
  CHECK_FALSE(handle);
}

}  // namespace
}  // namespace packmail::storage::test
