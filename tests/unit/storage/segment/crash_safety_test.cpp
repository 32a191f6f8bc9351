// Kill a writer with SIGKILL at random moments and reopen: every append the
// writer was told succeeded (sync=true) is present and byte-identical, UIDs
// keep increasing, and no half-committed batch is visible: counts match the
// index, multi-target deliveries are all-or-none, refcounts match references.
// (The shape of leveldb's fault_injection_test, with a real process kill.)
//
// The writer is this test binary re-executed (fork + exec) with the hidden
// test case "[.crash_writer]": a fresh process, so no RocksDB background
// thread of the parent is missing in the child.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "packmail/storage/crc32c.h"
#include "segment_test_util.h"

using namespace packmail::storage;
using namespace packmail::storage::segment;
using namespace packmail::storage::segment::test;

namespace {

constexpr int k_rounds = 30;

// One fixed-size record per event; a write of <= PIPE_BUF bytes is atomic, so
// a kill never leaves half a record in the pipe.
struct report {
  enum kind_t : std::uint32_t { ready = 1, appended = 2, expunge_intent = 3, expunged = 4 };
  std::uint32_t kind = 0;
  std::uint32_t seq = 0;      // message sequence number (X-Seq header)
  std::uint32_t targets = 0;  // 1 or 2
  std::uint32_t uid[2] = {0, 0};
  std::uint32_t crc = 0;  // crc32c of the message as written
  std::uint32_t length = 0;
};

bool is_multi(std::uint32_t seq) { return seq % 3 == 0; }

std::string message_for(std::uint32_t seq) {
  return make_message(static_cast<int>(seq), 50 + (seq * 7919u) % 3000u);
}

void send(int fd, const report& r) {
  if (::write(fd, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) ::_exit(3);
}

// The child: appends forever (and expunges now and then) and reports each
// acknowledged operation. Never returns.
[[noreturn]] void writer(const segment_options& options, mailbox_id inbox, mailbox_id other,
                         std::uint32_t first_seq, int fd) {
  auto opened = open_segment_store(options);
  if (!opened.ok()) ::_exit(2);
  auto& store = *opened;
  send(fd, report{report::ready});
  std::vector<imap_uid> expungeable;  // single-target INBOX messages
  for (std::uint32_t seq = first_seq;; ++seq) {
    std::string m = message_for(seq);
    append_request r;
    r.message = m;
    r.targets.push_back({inbox, 0, {}, ""});
    if (is_multi(seq)) r.targets.push_back({other, flag_seen, {"Multi"}, ""});
    auto a = store->append(r);
    if (!a.ok()) ::_exit(4);
    report rep{report::appended, seq, static_cast<std::uint32_t>(a->size())};
    for (std::size_t i = 0; i < a->size(); ++i) rep.uid[i] = (*a)[i].uid;
    rep.crc = crc32c(m);
    rep.length = static_cast<std::uint32_t>(m.size());
    send(fd, rep);
    if (!is_multi(seq)) expungeable.push_back(rep.uid[0]);
    if (seq % 10 == 7 && !expungeable.empty()) {
      imap_uid victim = expungeable.front();
      expungeable.erase(expungeable.begin());
      send(fd, report{report::expunge_intent, 0, 1, {victim, 0}});
      imap_uid uids[] = {victim};
      if (!store->expunge(inbox, uids).ok()) ::_exit(5);
      send(fd, report{report::expunged, 0, 1, {victim, 0}});
    }
  }
}

struct acked {
  std::uint32_t crc = 0;
  std::uint32_t length = 0;
};

// Checks the invariants on the reopened store; returns the highest UID per
// mailbox present.
void verify(mail_store& store, mailbox_id inbox, mailbox_id other,
            const std::map<std::pair<mailbox_id, imap_uid>, acked>& present,
            const std::set<imap_uid>& expunged, const std::set<imap_uid>& maybe_expunged) {
  std::map<mailbox_id, std::map<std::uint32_t, imap_uid>> by_seq;  // mailbox -> seq -> uid
  for (mailbox_id m : {inbox, other}) {
    auto info = store.get_mailbox(m);
    REQUIRE(info.ok());
    auto list = store.list_messages(m);
    REQUIRE(list.ok());
    REQUIRE(info->messages == list->size());
    std::uint64_t bytes = 0;
    std::uint32_t unseen = 0;
    imap_uid last = 0;
    for (const auto& msg : *list) {
      REQUIRE(msg.uid > last);
      last = msg.uid;
      bytes += msg.size;
      unseen += (msg.flags & flag_seen) ? 0 : 1;
      auto bytes_read = store.read_message(m, msg.uid);
      INFO("mailbox " << m << " uid " << msg.uid << ": " << bytes_read.error().to_string());
      REQUIRE(bytes_read.ok());  // acknowledged or not, nothing half-written
      REQUIRE(bytes_read->size() == msg.size);
      auto seq = static_cast<std::uint32_t>(std::stoul(bytes_read->substr(7)));
      REQUIRE(*bytes_read == message_for(seq));
      REQUIRE(store.read_structure(m, msg.uid).ok());
      by_seq[m][seq] = msg.uid;
    }
    REQUIRE(info->uidnext > last);
    REQUIRE(info->bytes == bytes);
    REQUIRE(info->unseen == unseen);
  }
  for (const auto& [key, a] : present) {
    auto [m, uid] = key;
    if (m == inbox && maybe_expunged.count(uid)) continue;
    auto bytes_read = store.read_message(m, uid);
    INFO("acknowledged mailbox " << m << " uid " << uid);
    REQUIRE(bytes_read.ok());
    REQUIRE(bytes_read->size() == a.length);
    REQUIRE(crc32c(*bytes_read) == a.crc);
  }
  for (imap_uid uid : expunged) REQUIRE(store.get_message(inbox, uid).code() == errc::expunged);
  // A delivery to two mailboxes is one batch: both copies or none (only
  // single-target messages are ever expunged).
  for (const auto& [seq, uid] : by_seq[inbox]) {
    if (is_multi(seq)) REQUIRE(by_seq[other].count(seq) == 1);
  }
  for (const auto& [seq, uid] : by_seq[other]) REQUIRE(by_seq[inbox].count(seq) == 1);
}

// Refcounts equal the number of index entries naming each body; no orphans.
void verify_refcounts(const segment_options& options) {
  raw_db raw(options.path);
  std::map<std::string, std::uint32_t> references;
  for (const auto& [key, value] : raw.scan(cf_idx)) {
    auto e = decode_index(value);
    REQUIRE(e);
    ++references[body_key(e->body)];
  }
  std::map<std::string, std::uint32_t> refcounts;
  for (const auto& [key, value] : raw.scan(cf_ref)) {
    auto r = decode_ref(value);
    REQUIRE(r);
    refcounts[key] = r->refcount;
  }
  REQUIRE(refcounts == references);
  std::set<std::string> bodies;
  for (const auto& [key, value] : raw.scan(cf_body)) bodies.insert(key);
  REQUIRE(bodies.size() == refcounts.size());
}

}  // namespace

TEST_CASE("SIGKILLed writers lose nothing acknowledged and leave no partial batch",
          "[crash_safety]") {
  temp_dir dir;
  auto options = test_options(dir.path());
  options.sync = true;
  options.min_blob_size = 2048;  // some bodies go to blob files
  mailbox_id inbox = 0, other = 0;
  {
    auto store = open_or_fail(options);
    auto user = *store->ensure_user("crash");
    inbox = store->get_mailbox(user, "INBOX")->id;
    other = store->create_mailbox(user, "Other", 0)->id;
  }

  std::mt19937 rng(Catch::rngSeed());
  std::map<std::pair<mailbox_id, imap_uid>, acked> present;
  std::set<imap_uid> expunged, maybe_expunged;
  std::map<mailbox_id, imap_uid> highest_acked;
  std::uint32_t next_seq = 1;
  std::size_t total_acked = 0;

  for (int round = 0; round < k_rounds; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      if (int null_fd = ::open("/dev/null", O_WRONLY); null_fd >= 0) ::dup2(null_fd, 1);
      ::setenv("PACKMAIL_CRASH_WRITER",
               (options.path.string() + "|" + std::to_string(inbox) + "|" + std::to_string(other) +
                "|" + std::to_string(next_seq) + "|" + std::to_string(fds[1]) + "|" +
                std::to_string(options.min_blob_size))
                   .c_str(),
               1);
      ::execl("/proc/self/exe", "segment_store_test", "[.crash_writer]",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);

    auto handle = [&](const report& r) {
      switch (r.kind) {
        case report::appended: {
          mailbox_id targets[2] = {inbox, other};
          for (std::uint32_t i = 0; i < r.targets; ++i) {
            REQUIRE(r.uid[i] > highest_acked[targets[i]]);  // UIDs only increase
            highest_acked[targets[i]] = r.uid[i];
            present[{targets[i], r.uid[i]}] = acked{r.crc, r.length};
          }
          next_seq = r.seq + 1;
          ++total_acked;
          break;
        }
        case report::expunge_intent:
          maybe_expunged.insert(r.uid[0]);
          break;
        case report::expunged:
          maybe_expunged.erase(r.uid[0]);
          expunged.insert(r.uid[0]);
          present.erase({inbox, r.uid[0]});
          break;
        default:
          break;
      }
    };
    auto read_one = [&](int timeout_ms) -> bool {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      report r;
      ssize_t n = ::read(fds[0], &r, sizeof r);
      if (n <= 0) return false;
      REQUIRE(n == static_cast<ssize_t>(sizeof r));
      handle(r);
      return true;
    };
    // Wait until the writer has opened the store, then let it run a while.
    report ready;
    REQUIRE(::read(fds[0], &ready, sizeof ready) == static_cast<ssize_t>(sizeof ready));
    REQUIRE(ready.kind == report::ready);
    auto kill_at = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 150)(rng));
    while (std::chrono::steady_clock::now() < kill_at) read_one(5);
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
    INFO("writer exit status " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1));
    REQUIRE(WIFSIGNALED(wstatus));  // it did not exit on an error
    while (read_one(0)) {
    }
    ::close(fds[0]);
    // An unacknowledged append may have committed: skip past its sequence.
    next_seq += 1;

    auto store = open_or_fail(options);
    verify(*store, inbox, other, present, expunged, maybe_expunged);
    for (auto m : {inbox, other}) {
      // The next UID is above every acknowledged one.
      REQUIRE(store->get_mailbox(m)->uidnext > highest_acked[m]);
    }
    // Settle the uncertain expunges now that the outcome is visible.
    for (auto uid : maybe_expunged) {
      if (store->get_message(inbox, uid).code() == errc::expunged) {
        expunged.insert(uid);
        present.erase({inbox, uid});
      }
    }
    maybe_expunged.clear();
    store.reset();
    verify_refcounts(options);
  }
  INFO("acknowledged appends: " << total_acked);
  CHECK(total_acked > static_cast<std::size_t>(k_rounds));
}

// The writer process of the test above; runs only when selected by name with
// its parameters in PACKMAIL_CRASH_WRITER ("path|inbox|other|first_seq|fd|min_blob").
TEST_CASE("crash writer (run by the crash safety test)", "[.crash_writer]") {
  const char* spec = std::getenv("PACKMAIL_CRASH_WRITER");
  REQUIRE(spec != nullptr);
  std::vector<std::string> f;
  std::string current;
  for (const char* p = spec;; ++p) {
    if (*p == '|' || *p == '\0') {
      f.push_back(current);
      current.clear();
      if (*p == '\0') break;
    } else {
      current.push_back(*p);
    }
  }
  REQUIRE(f.size() == 6);
  segment_options options;
  options.path = f[0];
  options.sync = true;
  options.min_blob_size = std::stoull(f[5]);
  options.block_cache_bytes = 8 << 20;
  writer(options, std::stoull(f[1]), std::stoull(f[2]),
         static_cast<std::uint32_t>(std::stoul(f[3])), std::stoi(f[4]));
}
