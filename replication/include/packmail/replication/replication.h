// Replication of a segment store to a mirror (DESIGN.md, Replication;
// docs/replication-protocol.md is the wire format).
//
// A primary accepts mirrors on its replication listener and streams its
// RocksDB write-ahead log to them; a mirror that is empty, diverged or behind
// the WAL archive first receives a checkpoint as whole files. In sync mode the
// primary's store (make_replicated_store) acknowledges a mutation only once a
// mirror has it durably, and refuses mutations (errc::temporary) while no
// mirror is in sync. Everything here runs on its own threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "packmail/storage/store.h"

namespace packmail::replication {

enum class durability { sync, async };

struct primary_options {
  std::string host = "127.0.0.1";  // listen address
  std::uint16_t port = 0;          // 0: any free port (see bound_port())
  std::string secret;              // shared with the mirrors
  durability mode = durability::sync;
  // How long a mutation waits for the mirror's acknowledgement before the
  // client is told to try again. Default: 5 s.
  std::chrono::milliseconds ack_timeout{5000};
  // Checkpoints for bootstraps are made here (removed when done).
  std::filesystem::path work_dir;
  // Bootstrap transfer limit in bytes/s; 0 = none. Default: 0.
  std::uint64_t bootstrap_rate = 0;
  // Halve the bootstrap rate while store calls' p99 latency is over 1.5x its
  // level without a bootstrap; raise it again when it recovers. Default: on.
  bool adaptive_rate = true;
};

// The primary side. The store must be a segment store and outlive this.
class primary {
 public:
  // Binds the listener and starts accepting. Throws std::runtime_error.
  primary(primary_options options, storage::mail_store& store);
  ~primary();
  primary(const primary&) = delete;
  primary& operator=(const primary&) = delete;

  std::uint16_t bound_port() const;
  durability mode() const;

  // True while a mirror is connected, tailing, and has caught up.
  bool in_sync() const;
  // Waits until a mirror has made sequence seq durable. errc::temporary when
  // no mirror is in sync or the acknowledgement does not come in time.
  storage::status wait_durable(std::uint64_t seq);
  // The store committed something: wakes the WAL senders.
  void notify_commit();
  // The latest committed sequence of the store.
  std::uint64_t latest_sequence() const;
  // One store call's duration (the adaptive bootstrap rate follows them).
  void record_latency(std::chrono::microseconds d);

  // {"role":"primary","epoch":..,"sequence":..,"mode":..,"mirrors":[...]}
  nlohmann::json status() const;
  // Compares per-mailbox digests with the first tailing mirror at one
  // sequence: {"sequence":N,"equal":bool,"mailboxes":N,"differences":[...]}.
  storage::result<nlohmann::json> verify();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Wraps a segment store: every mutation notifies the primary and, in sync
// mode, is refused while no mirror is in sync and acknowledged only once a
// mirror has it durably. Every call's duration is reported to the primary.
std::unique_ptr<storage::mail_store> make_replicated_store(storage::mail_store& inner,
                                                           primary& replication);

struct mirror_options {
  std::string primary_host;
  std::uint16_t primary_port = 0;
  std::string secret;
  // The database (created by the bootstrap) and its options.
  storage::segment_options store;
  // Staging for bootstraps and the quarantine of diverged history.
  std::filesystem::path work_dir;
};

// The mirror side: follows the primary until stopped or promoted.
class mirror {
 public:
  explicit mirror(mirror_options options);  // starts following
  ~mirror();                                // stops
  mirror(const mirror&) = delete;
  mirror& operator=(const mirror&) = delete;

  // {"role":"mirror","state":..,"epoch":..,"sequence":..,"primary_sequence":..,
  //  "lag":{...},"bootstrap":{...}}
  nlohmann::json status() const;
  // Stops following and makes the database the primary of a new epoch.
  // Afterwards the database is closed; open it with open_segment_store().
  storage::result<std::uint16_t> promote();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Offline promotion of a stopped mirror's database (packmailctl promote).
storage::result<std::uint16_t> promote_offline(const storage::segment_options& store);

}  // namespace packmail::replication
