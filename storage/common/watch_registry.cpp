#include "watch_registry.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace packmail::storage::detail {

class watch_registry::handle : public watch_handle {
 public:
  handle(std::shared_ptr<watch_registry> registry, std::shared_ptr<watcher> w)
      : registry_(std::move(registry)), watcher_(std::move(w)) {}
  ~handle() override { registry_->remove(watcher_); }

 private:
  // Shared so that a handle outliving the store stays safe to destroy.
  std::shared_ptr<watch_registry> registry_;
  std::shared_ptr<watcher> watcher_;
};

std::unique_ptr<watch_handle> watch_registry::add(mailbox_id mailbox, change_callback callback) {
  auto w = std::make_shared<watcher>();
  w->mailbox = mailbox;
  w->callback = std::move(callback);
  {
    std::lock_guard lock(mutex_);
    watchers_.emplace(mailbox, w);
  }
  return std::make_unique<handle>(shared_from_this(), std::move(w));
}

void watch_registry::remove(const std::shared_ptr<watcher>& w) {
  {
    std::lock_guard lock(mutex_);
    auto [first, last] = watchers_.equal_range(w->mailbox);
    for (auto it = first; it != last; ++it) {
      if (it->second == w) {
        watchers_.erase(it);
        break;
      }
    }
  }
  std::unique_lock lock(w->mutex);
  w->active = false;
  auto self = std::this_thread::get_id();
  w->idle.wait(lock, [&] {
    return std::all_of(w->running.begin(), w->running.end(),
                       [&](std::thread::id t) { return t == self; });
  });
}

void watch_registry::fire(mailbox_id mailbox, modseq_t highest_modseq) {
  std::vector<std::shared_ptr<watcher>> targets;
  {
    std::lock_guard lock(mutex_);
    auto [first, last] = watchers_.equal_range(mailbox);
    for (auto it = first; it != last; ++it) targets.push_back(it->second);
  }
  auto self = std::this_thread::get_id();
  for (auto& w : targets) {
    {
      std::lock_guard lock(w->mutex);
      if (!w->active) continue;
      w->running.push_back(self);
    }
    try {
      w->callback(mailbox, highest_modseq);
    } catch (const std::exception& e) {
      spdlog::error("storage: watch callback for mailbox {} threw: {}", mailbox, e.what());
    } catch (...) {
      spdlog::error("storage: watch callback for mailbox {} threw", mailbox);
    }
    std::lock_guard lock(w->mutex);
    w->running.erase(std::find(w->running.begin(), w->running.end(), self));
    w->idle.notify_all();
  }
}

}  // namespace packmail::storage::detail
