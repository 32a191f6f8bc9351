// packmaild's configuration: built-in defaults, overridden by a TOML file
// (--config FILE), overridden by command-line flags. Every key and flag is
// listed with its default in docs/configuration.md; keep the two in step.
//
// Relative paths (in the file and in flags) are relative to packmaild's
// working directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/listen_address.h"
#include "users/address_rules.h"

namespace packmail::server {

// Limits the protocol sessions enforce (each protocol's issue wires them in).
struct limits_config {
  // Longest command line a client may send, CRLF included. Default: 64 KiB.
  std::uint64_t max_line_length = 64 * 1024;
  // Largest IMAP literal / APPEND / LMTP DATA. Default: 64 MiB.
  std::uint64_t max_literal_size = 64ull << 20;
  // Open client connections, over all listeners. Default: 1000.
  std::uint32_t max_connections = 1000;
  // Open client connections from one IP address. Default: 50.
  std::uint32_t max_connections_per_ip = 50;
  // Pause before answering a failed authentication. Default: 2 s.
  std::chrono::milliseconds auth_failure_delay{2000};
  // Failed authentications before the connection is closed. Default: 3.
  std::uint32_t auth_failure_limit = 3;
  // RFC 3501 5.4: an IMAP server's autologout timer is at least 30 minutes.
  // Default: 1800 s.
  std::chrono::seconds imap_idle_timeout{1800};
  // RFC 1939 3: a POP3 server's autologout timer is at least 10 minutes.
  // Default: 600 s.
  std::chrono::seconds pop3_idle_timeout{600};
  // Commands an IMAP or POP3 session runs from one read before it sends
  // their replies and reads again (pipelining is served in steps). Default: 32.
  std::uint32_t max_pipelined_commands = 32;
  // RFC 5321 4.5.3.2.7: 5 minutes between commands. Default: 300 s.
  std::chrono::seconds lmtp_idle_timeout{300};
  // Accepted recipients per LMTP transaction; more get 452 4.5.3. RFC 5321
  // 4.5.3.1.8: at least 100. Default: 500.
  std::uint32_t lmtp_max_recipients = 500;
};

struct listeners_config {
  // nullopt = off. Defaults: 127.0.0.1 with the ports below.
  std::optional<listen_address> imap = listen_address{"127.0.0.1", 1143};
  std::optional<listen_address> imaps = listen_address{"127.0.0.1", 1993};
  std::optional<listen_address> pop3 = listen_address{"127.0.0.1", 1110};
  std::optional<listen_address> pop3s = listen_address{"127.0.0.1", 1995};
  std::optional<listen_address> lmtp = listen_address{"127.0.0.1", 2424};
  std::optional<listen_address> admin = listen_address{"127.0.0.1", 8143};
  // LMTP on a unix-domain socket (mode 0666), for a local MTA. A relative
  // path is relative to data_dir (see server_config::lmtp_socket_path()).
  // nullopt = off. Default: "lmtp.sock".
  std::optional<std::filesystem::path> lmtp_socket = std::filesystem::path("lmtp.sock");
};

// IMAP protocol choices.
struct imap_config {
  // Advertise LITERAL+ (non-synchronizing literals of any size); false:
  // LITERAL- (up to 4096 octets, RFC 7888 5). Default: true.
  bool literal_plus = true;
};

// [replication] (docs/replication-protocol.md). A primary sets listen; a
// mirror sets primary (flag --replicate-from). Both need the same secret.
struct replication_config {
  // Accept mirrors here. nullopt = off. Default: off.
  std::optional<listen_address> listen;
  // Follow this primary as its mirror. nullopt = off. Default: off.
  std::optional<listen_address> primary;
  // The shared secret's file (one line; relative paths are relative to
  // data_dir); created with a random secret on a primary's first start.
  // Default: "replication.secret".
  std::filesystem::path secret_file = "replication.secret";
  // true: sync (a mutation is acknowledged once the mirror has it durably;
  // with no mirror in sync, LMTP 451 / IMAP NO [UNAVAILABLE]); false: async.
  // Default: sync.
  bool sync = true;
  // How long a mutation waits for the mirror. Default: 5000 ms.
  std::chrono::milliseconds ack_timeout{5000};
  // Bootstrap transfer limit, bytes/s; 0 = none. Default: 0.
  std::uint64_t bootstrap_rate = 0;
  // Back the bootstrap off while client latency rises. Default: true.
  bool adaptive_rate = true;
  // WAL kept for mirrors that fall behind (RocksDB WAL_ttl_seconds). Default:
  // 72 h. wal_retention_mb: also cap the archive's size (0 = no cap).
  std::chrono::seconds wal_retention{72 * 3600};
  std::uint64_t wal_retention_mb = 0;
};

struct server_config {
  // Default: ./packmail-data
  std::filesystem::path data_dir = "packmail-data";
  listeners_config listen;
  // The passwd-file. Default: <data_dir>/users (see users_path()).
  std::optional<std::filesystem::path> users_file;
  // Both or neither. Default: neither, i.e. a self-signed certificate in
  // <data_dir>/tls/{cert,key}.pem, generated on first start.
  std::optional<std::filesystem::path> tls_cert;
  std::optional<std::filesystem::path> tls_key;
  // trace, debug, info, warn, error, critical or off. Default: info.
  std::string log_level = "info";
  // Threads running the io_context. 0 = one per core. Default: 0.
  std::uint32_t io_threads = 0;
  // Threads running session calls (which may block on the store).
  // 0 = four per core. Default: 0.
  std::uint32_t session_threads = 0;
  // On SIGTERM/SIGINT, how long connections get to finish before they are
  // closed by force. Default: 10 s.
  std::chrono::seconds shutdown_timeout{10};
  limits_config limits;
  // How recipients and login names name users ([delivery]).
  address_rules delivery;
  imap_config imap;
  replication_config replication;

  std::filesystem::path users_path() const { return users_file ? *users_file : data_dir / "users"; }
  // The LMTP socket's path, relative paths resolved against data_dir.
  // Precondition: listen.lmtp_socket is set.
  std::filesystem::path lmtp_socket_path() const { return data_dir / *listen.lmtp_socket; }
  std::filesystem::path replication_secret_path() const {
    return data_dir / replication.secret_file;
  }
};

// Command-line flags; each set one overrides the file. Listener values use
// parse_listen_address syntax ("off" included).
struct config_overrides {
  std::optional<std::filesystem::path> data_dir;
  std::optional<std::string> imap, imaps, pop3, pop3s, lmtp, admin;
  std::optional<std::string> lmtp_socket;  // a path or "off"
  std::optional<std::filesystem::path> users_file;
  std::optional<std::filesystem::path> tls_cert, tls_key;
  std::optional<std::string> log_level;
  std::optional<std::string> replication;     // ADDR:PORT or off
  std::optional<std::string> replicate_from;  // HOST:PORT or off
  std::optional<std::filesystem::path> replication_secret_file;
  std::optional<std::string> replication_mode;  // sync or async
};

// A configuration that cannot be used; what() is one line naming the source
// and the key: "packmail.toml: unknown key 'limits.max_lines'".
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Applies the TOML text on top of config. source names the file in messages.
// Throws config_error for syntax errors, unknown keys, wrong types and values
// out of range.
void apply_config_toml(server_config& config, std::string_view toml_text,
                       const std::string& source);
// Applies the flags on top of config. Throws config_error ("--imap: ...").
void apply_overrides(server_config& config, const config_overrides& flags);
// Cross-field checks (cert without key, two listeners on one address, ...).
// Throws config_error.
void validate(const server_config& config);

// Defaults, then the file (if any; it must exist), then the flags, then
// validate(). Throws config_error.
server_config load_config(const std::optional<std::filesystem::path>& file,
                          const config_overrides& flags);

}  // namespace packmail::server
