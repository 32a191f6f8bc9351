#include "packmail/protocols/pop3/maildrop_locks.h"

#include <mutex>
#include <unordered_set>
#include <utility>

namespace packmail::protocols::pop3 {

struct maildrop_locks::registry {
  mutable std::mutex mutex;
  std::unordered_set<storage::mailbox_id> held;
};

maildrop_locks::lease::lease(lease&& other) noexcept
    : registry_(std::move(other.registry_)), maildrop_(other.maildrop_) {
  other.registry_.reset();
}

maildrop_locks::lease& maildrop_locks::lease::operator=(lease&& other) noexcept {
  if (this != &other) {
    release();
    registry_ = std::move(other.registry_);
    maildrop_ = other.maildrop_;
    other.registry_.reset();
  }
  return *this;
}

void maildrop_locks::lease::release() noexcept {
  if (!registry_) return;
  {
    std::lock_guard lock(registry_->mutex);
    registry_->held.erase(maildrop_);
  }
  registry_.reset();
}

maildrop_locks::maildrop_locks() : registry_(std::make_shared<registry>()) {}

maildrop_locks::~maildrop_locks() = default;

maildrop_locks::lease maildrop_locks::try_lock(storage::mailbox_id maildrop) {
  std::lock_guard lock(registry_->mutex);
  if (!registry_->held.insert(maildrop).second) return {};
  return lease(registry_, maildrop);
}

bool maildrop_locks::locked(storage::mailbox_id maildrop) const {
  std::lock_guard lock(registry_->mutex);
  return registry_->held.contains(maildrop);
}

std::size_t maildrop_locks::size() const {
  std::lock_guard lock(registry_->mutex);
  return registry_->held.size();
}

}  // namespace packmail::protocols::pop3
