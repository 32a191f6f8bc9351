// Shared by the backends. Watchers of mailboxes: callbacks fired after a commit, with no store lock
// held. Destroying a handle waits for callbacks running on other threads, so
// none runs after the destructor returns; a callback may destroy its own
// handle (it does not wait for itself).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "packmail/storage/store.h"

namespace packmail::storage::detail {

class watch_registry : public std::enable_shared_from_this<watch_registry> {
 public:
  std::unique_ptr<watch_handle> add(mailbox_id mailbox, change_callback callback);
  // Calls every live watcher of `mailbox`. Must be called with no store lock held.
  void fire(mailbox_id mailbox, modseq_t highest_modseq);

 private:
  struct watcher {
    mailbox_id mailbox = 0;
    change_callback callback;
    std::mutex mutex;
    std::condition_variable idle;
    bool active = true;
    std::vector<std::thread::id> running;  // threads inside the callback now
  };
  class handle;
  void remove(const std::shared_ptr<watcher>& w);

  std::mutex mutex_;
  std::unordered_multimap<mailbox_id, std::shared_ptr<watcher>> watchers_;
};

}  // namespace packmail::storage::detail
