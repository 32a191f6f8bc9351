// Exclusive access to a maildrop for one POP3 session at a time (RFC 1939 8:
// the server acquires an exclusive-access lock on the maildrop at login; RFC
// 2449 8.1.2: a second session gets "-ERR [IN-USE]"). In-process only: IMAP
// sessions and deliveries are not locked out.
//
// Ownership: a lease keeps what it needs alive by itself, so leases may
// outlive the registry that issued them; destroying a lease (or the session
// holding it, by any path: QUIT, timeout, shutdown, an exception, the server
// dropping the connection) releases the maildrop.
//
// Thread-safety: every method of maildrop_locks may be called concurrently
// from any thread; a lease is used by one thread at a time.
#pragma once

#include <cstddef>
#include <memory>

#include "packmail/storage/store.h"

namespace packmail::protocols::pop3 {

class maildrop_locks {
  struct registry;

 public:
  // The hold on one maildrop; movable, not copyable. An empty lease holds
  // nothing.
  class lease {
   public:
    lease() = default;
    lease(lease&& other) noexcept;
    lease& operator=(lease&& other) noexcept;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { release(); }

    bool held() const { return registry_ != nullptr; }
    explicit operator bool() const { return held(); }
    // Gives the maildrop back now; the lease is then empty. Idempotent.
    void release() noexcept;

   private:
    friend class maildrop_locks;
    lease(std::shared_ptr<registry> r, storage::mailbox_id maildrop)
        : registry_(std::move(r)), maildrop_(maildrop) {}

    std::shared_ptr<registry> registry_;
    storage::mailbox_id maildrop_ = 0;
  };

  maildrop_locks();
  ~maildrop_locks();
  maildrop_locks(const maildrop_locks&) = delete;
  maildrop_locks& operator=(const maildrop_locks&) = delete;

  // Takes the maildrop (the id of the user's INBOX; one registry serves one
  // store). Returns an empty lease when another lease holds it.
  [[nodiscard]] lease try_lock(storage::mailbox_id maildrop);
  // Whether some lease holds the maildrop now.
  bool locked(storage::mailbox_id maildrop) const;
  // How many maildrops are held now.
  std::size_t size() const;

 private:
  std::shared_ptr<registry> registry_;
};

}  // namespace packmail::protocols::pop3
