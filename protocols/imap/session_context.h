// Inside the IMAP session: its state, the selected mailbox's view, and the
// command handlers (one file per family under commands/). Private to
// protocols/imap.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "packmail/protocols/imap/parser.h"
#include "packmail/protocols/imap/sequence_set.h"
#include "packmail/protocols/imap/session.h"
#include "responses.h"

namespace packmail::protocols::imap {

struct view_message {
  storage::imap_uid uid = 0;
  std::uint8_t flags = 0;
  std::vector<std::string> keywords;
  // The modseq of the flags above: a journal change at or below it is
  // already known (this session's own STORE, or a FETCH that set \Seen).
  storage::modseq_t modseq = 0;
  // Expunged by another session but not yet announced (RFC 3501 7.4.1): the
  // sequence number stays valid until an EXPUNGE response may be sent.
  bool expunged = false;
  bool recent = false;  // \Recent in this session (RFC 3501 2.3.2)
};

// The selected mailbox as this session has told the client: sequence numbers
// map to UIDs here, and changes by other sessions reach the client only
// through sync().
class mailbox_view {
 public:
  // Watches the mailbox (calling `wake` on changes) and loads its messages.
  static storage::result<std::unique_ptr<mailbox_view>> open(storage::mail_store& store,
                                                             const storage::mailbox_info& info,
                                                             bool read_only, wake_function wake,
                                                             recent_registry* recent);
  ~mailbox_view();

  storage::mailbox_id id() const { return id_; }
  const std::string& name() const { return name_; }
  void rename(std::string name) { name_ = std::move(name); }
  bool read_only() const { return read_only_; }
  std::uint32_t uidvalidity() const { return uidvalidity_; }
  std::uint32_t exists() const { return static_cast<std::uint32_t>(messages_.size()); }
  std::uint32_t max_uid() const { return messages_.empty() ? 0 : messages_.back().uid; }
  // 1-based; precondition: 1 <= seq <= exists().
  view_message& at(std::uint32_t seq) { return messages_[seq - 1]; }
  // The sequence number of `uid`, or 0.
  std::uint32_t seq_of(storage::imap_uid uid) const;
  // Messages with \Recent in this session.
  std::uint32_t recent() const { return recent_count_; }
  // Another session changed the mailbox since the last sync.
  bool changed() const { return changed_->load(); }

  // Announces changes made since the last sync: "* n FETCH (FLAGS ...)",
  // "* n EXISTS", and "* n EXPUNGE" when allow_expunge (else the expunged
  // messages keep their sequence numbers). Returns false when the mailbox
  // is gone (deleted).
  bool sync(std::string& out, bool allow_expunge, bool with_uid);
  // Drops `uid` now and writes "* n EXPUNGE" (this session's own expunge).
  void expunge(storage::imap_uid uid, std::string& out);
  // Records flags (and their modseq) this session just set or fetched, so
  // sync() neither announces them again nor reads them back from the store.
  void remember(const storage::message_info& info);

  // The sequence numbers (uid == false) or UIDs in `set`, in ascending order,
  // as positions (sequence numbers) of existing view messages. The error
  // (for a tagged BAD) when a sequence number is beyond exists() or the set
  // names "$" (k_no_saved_result).
  syntax_result<std::vector<std::uint32_t>> resolve(const sequence_set& set, bool uid) const;

 private:
  mailbox_view(storage::mail_store& store, const storage::mailbox_info& info, bool read_only);

  // Marks \Recent on messages from `from` (ascending) that this session may
  // claim; a read-only view does not claim and sees what nobody claimed.
  // Claims up to uidnext (at least past the last message).
  void mark_recent(std::size_t from, storage::imap_uid uidnext);

  storage::mail_store& store_;
  recent_registry* recent_registry_ = nullptr;
  std::uint32_t recent_count_ = 0;
  storage::mailbox_id id_;
  std::string name_;
  bool read_only_;
  std::uint32_t uidvalidity_;
  storage::modseq_t synced_ = 0;
  std::vector<view_message> messages_;  // in UID (= sequence) order
  std::size_t held_expunges_ = 0;       // messages_ marked expunged, not yet announced
  std::shared_ptr<std::atomic<bool>> changed_ = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<storage::watch_handle> watch_;
};

// RFC 5182: "$" names the result a SEARCH ... RETURN (SAVE) kept, and
// SEARCHRES is not offered, so no command may use it.
inline constexpr std::string_view k_no_saved_result = "$ needs SEARCHRES, which is not offered";

struct not_authenticated {
  unsigned failures = 0;
};
struct authenticated {
  std::string user;
  storage::user_id id = 0;
};
struct selected {
  std::string user;
  storage::user_id id = 0;
  std::unique_ptr<mailbox_view> view;
};
struct logged_out {};
using session_state = std::variant<not_authenticated, authenticated, selected, logged_out>;

// Everything a command handler may use.
class session_context {
 public:
  session_context(session_config c, connection_info info, wake_function w)
      : config(std::move(c)),
        connection(std::move(info)),
        wake(std::move(w)),
        parser(config.limits) {}

  session_config config;
  connection_info connection;
  wake_function wake;
  command_parser parser;
  session_state state;

  std::string out;  // untagged responses of the current call
  bool close = false;
  bool start_tls = false;
  std::chrono::milliseconds delay{0};  // before the output of this call
  // AUTHENTICATE waiting for a client response line.
  struct sasl_exchange {
    std::string tag;
    bool login = false;               // AUTH=LOGIN (else PLAIN)
    std::optional<std::string> user;  // LOGIN: the user name, once given
  };
  std::optional<sasl_exchange> sasl;
  std::string pending_input;  // input kept past the pipelining limit
  // A command that answers in steps (a big FETCH): a handler that returns
  // nullopt with this set is called again, before any new input is read,
  // until it returns its tagged result.
  std::function<std::optional<reply>(session_context&)> resume;
  struct resumed_command {
    std::string tag;
    unsigned flags = 0;  // the command table's flags
    bool uid = false;
  } resumed;
  std::optional<std::string> idle_tag;  // IDLE waiting for DONE

  storage::mail_store& store() { return *config.store; }
  // The user of an authenticated or selected session, else 0.
  storage::user_id user_id() const;
  const std::string* user_name() const;
  // The view of a selected session, else nullptr.
  mailbox_view* view();
  // Leaves the selected state for the authenticated state.
  void deselect();
  // Announces what changed in the selected mailbox (mailbox_view::sync).
  // When it was deleted, writes the BYE, sets close and returns false; true
  // otherwise, and when no mailbox is selected.
  bool sync_view(bool allow_expunge, bool with_uid);
  // The capability list, without "CAPABILITY".
  std::string capabilities() const;
  bool auth_allowed() const;
  // Logs `user` in (after its password was checked).
  reply login_as(const std::string& user);
  // Counts a failed attempt; closes the connection after too many.
  reply login_failed();
};

// Handlers. They write untagged responses to ctx.out and return the tagged
// result, or nullopt when the command continues (AUTHENTICATE, IDLE).
using command_handler = std::optional<reply> (*)(session_context& ctx, command& cmd);

// commands/auth.cpp
std::optional<reply> handle_capability(session_context&, command&);
std::optional<reply> handle_noop(session_context&, command&);
std::optional<reply> handle_logout(session_context&, command&);
std::optional<reply> handle_login(session_context&, command&);
std::optional<reply> handle_authenticate(session_context&, command&);
std::optional<reply> handle_starttls(session_context&, command&);
std::optional<reply> handle_id(session_context&, command&);
std::optional<reply> handle_idle(session_context&, command&);
std::optional<reply> handle_enable(session_context&, command&);
// Continues AUTHENTICATE with the client's response line: the tagged result, or
// nullopt when another challenge went out.
std::optional<reply> continue_authenticate(session_context&, const sasl_response& response);
// commands/mailbox.cpp
std::optional<reply> handle_select(session_context&, command&);
std::optional<reply> handle_examine(session_context&, command&);
std::optional<reply> handle_create(session_context&, command&);
std::optional<reply> handle_delete(session_context&, command&);
std::optional<reply> handle_rename(session_context&, command&);
std::optional<reply> handle_subscribe(session_context&, command&);
std::optional<reply> handle_unsubscribe(session_context&, command&);
std::optional<reply> handle_list(session_context&, command&);
std::optional<reply> handle_lsub(session_context&, command&);
std::optional<reply> handle_status(session_context&, command&);
std::optional<reply> handle_namespace(session_context&, command&);
// commands/message.cpp
std::optional<reply> handle_append(session_context&, command&);
std::optional<reply> handle_check(session_context&, command&);
std::optional<reply> handle_close(session_context&, command&);
std::optional<reply> handle_unselect(session_context&, command&);
std::optional<reply> handle_expunge(session_context&, command&);
// commands/fetch.cpp
std::optional<reply> handle_fetch(session_context&, command&);
// commands/store.cpp
std::optional<reply> handle_store(session_context&, command&);
// commands/copy.cpp
std::optional<reply> handle_copy(session_context&, command&);
std::optional<reply> handle_move(session_context&, command&);
// commands/search.cpp
std::optional<reply> handle_search(session_context&, command&);

// A mailbox name argument decoded from modified UTF-7 to the store's UTF-8.
std::optional<std::string> mailbox_argument(const token& t);
// The user's mailbox `name` as the target of APPEND, COPY or MOVE: a missing
// one is try_create (RFC 3501 6.3.11, 6.4.7: NO [TRYCREATE]). In
// commands/message.cpp.
storage::result<storage::mailbox_info> target_mailbox(session_context& ctx, std::string_view name);

}  // namespace packmail::protocols::imap
