// Contract: concurrent callers. Catch assertions are not thread-safe, so the
// threads only record what they got; the checks run after join().
#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store_fixture.h"

namespace packmail::storage::test {
namespace {

constexpr int k_threads = 8;
constexpr int k_appends = 200;

struct per_thread {
  std::vector<imap_uid> uids;
  std::vector<modseq_t> modseqs;
  int failures = 0;
};

TEST_CASE_METHOD(store_fixture, "concurrent appenders to one mailbox get distinct increasing UIDs",
                 "[concurrency]") {
  const mailbox_id inbox = mailbox(make_user(), "INBOX").id;
  std::vector<per_thread> results(k_threads);
  std::atomic<bool> reading{true};
  std::atomic<int> inconsistent_reads{0};
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
      threads.emplace_back([&, t] {
        const std::string message = make_message("thread " + std::to_string(t));
        for (int i = 0; i < k_appends; ++i) {
          auto done = append_quietly(inbox, message);
          if (!done || done->size() != 1) {
            ++results[t].failures;
            continue;
          }
          results[t].uids.push_back(done->front().uid);
          results[t].modseqs.push_back(done->front().modseq);
        }
      });
    }
    // A reader meanwhile: every snapshot is in ascending UID order.
    std::thread reader([&] {
      while (reading) {
        auto listed = store().list_messages(inbox);
        if (!listed) {
          ++inconsistent_reads;
          continue;
        }
        if (!std::is_sorted(listed->begin(), listed->end(),
                            [](const auto& a, const auto& b) { return a.uid <= b.uid; })) {
          ++inconsistent_reads;
        }
      }
    });
    for (auto& thread : threads) thread.join();
    reading = false;
    reader.join();
  }
  CHECK(inconsistent_reads == 0);

  std::set<imap_uid> all_uids;
  std::set<modseq_t> all_modseqs;
  for (int t = 0; t < k_threads; ++t) {
    INFO("thread " << t);
    CHECK(results[t].failures == 0);
    REQUIRE(results[t].uids.size() == k_appends);
    CHECK(std::adjacent_find(results[t].uids.begin(), results[t].uids.end(),
                             [](imap_uid a, imap_uid b) { return a >= b; }) ==
          results[t].uids.end());
    CHECK(std::adjacent_find(results[t].modseqs.begin(), results[t].modseqs.end(),
                             [](modseq_t a, modseq_t b) { return a >= b; }) ==
          results[t].modseqs.end());
    all_uids.insert(results[t].uids.begin(), results[t].uids.end());
    all_modseqs.insert(results[t].modseqs.begin(), results[t].modseqs.end());
  }
  constexpr std::size_t k_total = k_threads * k_appends;
  CHECK(all_uids.size() == k_total);
  CHECK(all_modseqs.size() == k_total);
  // No UID was skipped in a single mailbox with no failures: 1..1600.
  CHECK(*all_uids.begin() == 1);
  CHECK(*all_uids.rbegin() == k_total);

  auto listed = store().list_messages(inbox);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == k_total);
  std::vector<imap_uid> listed_uids;
  for (const auto& m : *listed) listed_uids.push_back(m.uid);
  CHECK(listed_uids == std::vector<imap_uid>(all_uids.begin(), all_uids.end()));
  // A higher UID was committed with a higher modseq: UIDs and modseqs rise together.
  CHECK(std::is_sorted(listed->begin(), listed->end(),
                       [](const auto& a, const auto& b) { return a.modseq < b.modseq; }));
  const mailbox_info info = mailbox(inbox);
  CHECK(info.messages == k_total);
  CHECK(info.uidnext == k_total + 1);
  CHECK(info.highest_modseq == *all_modseqs.rbegin());
  CHECK(stats().bodies == k_total);
  reopen();
  CHECK(mailbox(inbox).uidnext == k_total + 1);
  CHECK(uids_of(inbox).size() == k_total);
}

TEST_CASE_METHOD(store_fixture, "concurrent appenders to different mailboxes", "[concurrency]") {
  const user_id alice = make_user();
  std::vector<mailbox_id> boxes;
  for (int t = 0; t < k_threads; ++t) {
    boxes.push_back(make_mailbox(alice, "box" + std::to_string(t)).id);
  }
  std::vector<per_thread> results(k_threads);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
      threads.emplace_back([&, t] {
        const std::string message = make_message("box " + std::to_string(t));
        for (int i = 0; i < k_appends; ++i) {
          auto done = append_quietly(boxes[t], message);
          if (!done || done->size() != 1 || done->front().mailbox != boxes[t]) {
            ++results[t].failures;
            continue;
          }
          results[t].uids.push_back(done->front().uid);
          results[t].modseqs.push_back(done->front().modseq);
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  for (int t = 0; t < k_threads; ++t) {
    INFO("mailbox " << t);
    CHECK(results[t].failures == 0);
    std::vector<imap_uid> expected(k_appends);
    for (int i = 0; i < k_appends; ++i) expected[i] = static_cast<imap_uid>(i + 1);
    CHECK(results[t].uids == expected);
    CHECK(uids_of(boxes[t]) == expected);
    const mailbox_info info = mailbox(boxes[t]);
    CHECK(info.messages == k_appends);
    CHECK(info.uidnext == k_appends + 1);
    CHECK(info.highest_modseq == results[t].modseqs.back());
    CHECK(std::adjacent_find(results[t].modseqs.begin(), results[t].modseqs.end(),
                             [](modseq_t a, modseq_t b) { return a >= b; }) ==
          results[t].modseqs.end());
  }
  CHECK(stats().messages == k_threads * k_appends);
}

TEST_CASE_METHOD(store_fixture, "concurrent flag changes, copies and expunges stay consistent",
                 "[concurrency]") {
  const user_id alice = make_user();
  const mailbox_id inbox = mailbox(alice, "INBOX").id;
  const mailbox_id archive = mailbox(alice, "Archive").id;
  append_many(inbox, 100);
  std::atomic<int> failures{0};
  {
    std::vector<std::thread> threads;
    // Flaggers toggle \Seen on every message.
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (imap_uid uid = 1; uid <= 100; ++uid) {
          const imap_uid one[] = {uid};
          const flag_op op = t == 0 ? flag_op::add : flag_op::remove;
          if (!store().store_flags(inbox, one, {op, flag_seen, {}, {}}).ok()) ++failures;
        }
      });
    }
    // A copier copies every message; an expunger removes the odd ones.
    threads.emplace_back([&] {
      for (imap_uid uid = 1; uid <= 100; ++uid) {
        const imap_uid one[] = {uid};
        if (!store().copy(inbox, one, archive, false).ok()) ++failures;
      }
    });
    threads.emplace_back([&] {
      for (imap_uid uid = 1; uid <= 100; uid += 2) {
        const imap_uid one[] = {uid};
        if (!store().expunge(inbox, one).ok()) ++failures;
      }
    });
    for (auto& thread : threads) thread.join();
  }
  CHECK(failures == 0);

  auto listed = store().list_messages(inbox);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 50);
  std::uint32_t unseen = 0;
  for (const auto& m : *listed) {
    CHECK(m.uid % 2 == 0);
    if (!(m.flags & flag_seen)) ++unseen;
  }
  const mailbox_info info = mailbox(inbox);
  CHECK(info.messages == 50);
  CHECK(info.unseen == unseen);
  const mailbox_info archived = mailbox(archive);
  const auto archived_uids = uids_of(archive);
  CHECK(archived.messages == archived_uids.size());
  CHECK(archived_uids.size() >= 50);  // every even message was copied
  // Every body is referenced by a live entry, and none was lost.
  const store_stats s = stats();
  CHECK(s.messages == 50 + archived_uids.size());
  CHECK(s.bodies <= 100);
  CHECK(s.bodies >= 50);
}

}  // namespace
}  // namespace packmail::storage::test
