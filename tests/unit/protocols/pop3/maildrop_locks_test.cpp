// maildrop_locks: one lease per maildrop, released by destruction on every
// path, safe across threads and after the registry is gone.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "packmail/protocols/pop3/maildrop_locks.h"

using packmail::protocols::pop3::maildrop_locks;

TEST_CASE("a second lease on the same maildrop is refused", "[pop3][locks]") {
  maildrop_locks locks;
  auto first = locks.try_lock(7);
  CHECK(first.held());
  CHECK(locks.locked(7));
  auto second = locks.try_lock(7);
  CHECK_FALSE(second.held());
  auto other = locks.try_lock(8);
  CHECK(other.held());
  CHECK(locks.size() == 2);
}

TEST_CASE("destroying or releasing a lease frees the maildrop", "[pop3][locks]") {
  maildrop_locks locks;
  {
    auto lease = locks.try_lock(1);
    CHECK(lease);
  }
  CHECK_FALSE(locks.locked(1));
  auto lease = locks.try_lock(1);
  lease.release();
  lease.release();  // idempotent
  CHECK_FALSE(lease.held());
  CHECK(locks.try_lock(1).held());
}

TEST_CASE("an empty lease does not free someone else's hold", "[pop3][locks]") {
  maildrop_locks locks;
  auto holder = locks.try_lock(3);
  { auto refused = locks.try_lock(3); }
  CHECK(locks.locked(3));
}

TEST_CASE("moving a lease moves the hold", "[pop3][locks]") {
  maildrop_locks locks;
  auto a = locks.try_lock(5);
  maildrop_locks::lease b = std::move(a);
  CHECK_FALSE(a.held());  // NOLINT(bugprone-use-after-move): moved-from is empty
  CHECK(b.held());
  a = locks.try_lock(6);
  b = std::move(a);  // releases 5, takes 6
  CHECK_FALSE(locks.locked(5));
  CHECK(locks.locked(6));
  b = maildrop_locks::lease();
  CHECK(locks.size() == 0);
}

TEST_CASE("a lease may outlive its registry", "[pop3][locks]") {
  auto locks = std::make_unique<maildrop_locks>();
  auto lease = locks->try_lock(9);
  locks.reset();
  CHECK(lease.held());
  lease.release();  // no use after free (ASan builds check this)
}

TEST_CASE("concurrent sessions: exactly one holds a maildrop at a time", "[pop3][locks]") {
  maildrop_locks locks;
  std::atomic<int> holders{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> acquired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto lease = locks.try_lock(42);
        if (!lease) continue;
        ++acquired;
        if (++holders > 1) ++overlaps;
        --holders;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(overlaps == 0);
  CHECK(acquired > 0);
  CHECK(locks.size() == 0);
}
