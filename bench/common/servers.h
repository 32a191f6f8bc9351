// The servers the protocol benchmarks compare, started and stopped by the
// benchmark itself: packmaild from the build tree and Dovecot (installed from
// Debian when missing), each on free loopback ports in a scratch directory,
// with the same users (one passwd-file, Dovecot's format, read by both).
//
// Child processes are started with PR_SET_PDEATHSIG = SIGTERM and registered
// for the SIGINT/SIGTERM/SIGHUP handler that install_cleanup_handlers() sets
// up, so a benchmark that is interrupted or dies does not leave servers
// running. Destructors stop what is still running.
//
// Thread-safety: none; use from the benchmark's main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace packmail::bench {

namespace fs = std::filesystem;

// SIGINT, SIGTERM, SIGHUP: stop every registered child (SIGTERM, then SIGKILL
// after 5 s), say where the scratch directory was left, exit 130.
void install_cleanup_handlers();

// A fresh directory under /var/tmp (mode 0755, so Dovecot's unprivileged
// processes can reach their files); removed on destruction unless kept.
class scratch_dir {
 public:
  explicit scratch_dir(std::string_view prefix, bool keep = false);
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool keep_;
};

// Runs argv (no shell) to completion with `input` on stdin; returns the exit
// status (128 + signal when killed) and fills `output` with stdout+stderr.
int run_command(const std::vector<std::string>& argv, const std::string& input,
                std::string* output = nullptr);

// Starts argv (no shell) as a child that the cleanup handlers stop: stdout
// and stderr appended to `log`, its own process group, SIGTERM when the
// benchmark dies. Throws when the log cannot be opened or fork fails.
pid_t start_process(const std::vector<std::string>& argv, const fs::path& log);

// SIGTERM, up to `timeout` for the child to exit, then SIGKILL; returns its
// exit status (128 + signal when killed). Does nothing for pid <= 0.
int stop_process(pid_t pid, std::chrono::seconds timeout);

// A loopback TCP port nothing listens on right now.
std::uint16_t free_port();

// Waits until 127.0.0.1:port accepts a connection and sends a first line,
// which is returned (without CRLF). nullopt on timeout or when `pid` exited.
std::optional<std::string> wait_for_greeting(std::uint16_t port, pid_t pid,
                                             std::chrono::seconds timeout);

// The binary `name` next to the running benchmark's build tree
// (<build>/server/<name> for <build>/bench/<bench>), unless `given` is set.
fs::path find_build_binary(const char* argv0, const std::string& name, const std::string& given);

// The users the benchmarks log in as: user0000, user0001, ... all with the
// same password, each hashed separately (own salt) with `scheme` by
// packmailctl, into a passwd-file both servers read.
struct bench_users {
  std::vector<std::string> names;
  std::string password = "bench-Password-1";
  std::string scheme;  // packmailctl --scheme: SHA512-CRYPT, ARGON2ID, BLF-CRYPT, PLAIN
  fs::path file;
};
// Throws std::runtime_error when packmailctl fails.
bench_users create_users(const fs::path& packmailctl, const fs::path& file, unsigned count,
                         const std::string& scheme);

// --- packmaild --------------------------------------------------------------------------

struct packmail_options {
  fs::path packmaild;
  fs::path dir;  // data directory, config and log go under it
  fs::path users_file;
  std::uint16_t imap_port = 0;  // 0: listener off
  std::uint16_t pop3_port = 0;
  std::uint16_t lmtp_port = 0;
  unsigned max_connections = 20000;  // limits.max_connections and .._per_ip
};

class packmail_server {
 public:
  // Writes <dir>/packmail.toml, starts packmaild (log: <dir>/packmaild.log)
  // and waits for the first listener's greeting. Throws with the log's tail
  // when it does not come up within 60 s.
  explicit packmail_server(const packmail_options& options);
  ~packmail_server();
  packmail_server(const packmail_server&) = delete;
  packmail_server& operator=(const packmail_server&) = delete;
  pid_t pid() const { return pid_; }
  // SIGTERM, wait (up to 30 s), SIGKILL. Idempotent.
  void stop();

 private:
  pid_t pid_ = -1;
};

// --- Dovecot ----------------------------------------------------------------------------

// Runs scripts/bench-install-dovecot.sh when `dovecot` is not installed (needs
// root and Debian's package lists); returns `dovecot --version` or throws.
std::string ensure_dovecot_installed();

// The unprivileged system user owning Dovecot's mail (created with useradd
// when missing). Dovecot refuses to store mail as root.
struct system_user {
  std::string name;
  unsigned uid = 0, gid = 0;
};
system_user ensure_system_user(const std::string& name);

enum class dovecot_login_mode {
  // Dovecot's default, "high-security": one imap-login/pop3-login process
  // per connection (service_count = 1).
  standard,
  // "High-performance": login processes serve many connections
  // (service_count = 0, process_min_avail = CPU cores).
  performance,
};
const char* mode_name(dovecot_login_mode mode);  // "default" / "performance"

struct dovecot_options {
  fs::path dir;        // config, base_dir (run/), state, log
  fs::path home_root;  // the users' homes: <home_root>/<user>; may be shared by two instances
  fs::path users_file;
  std::string mail_location = "maildir:~/Maildir";
  dovecot_login_mode mode = dovecot_login_mode::standard;
  system_user mail_user;
  std::uint16_t imap_port = 0;  // 0: listener off
  std::uint16_t pop3_port = 0;
  std::uint16_t lmtp_port = 0;
  // Raises the process and client limits (and mail_max_userip_connections)
  // so this many connections fit; limits only, no behaviour changes.
  unsigned max_connections = 1000;
};

class dovecot_server {
 public:
  // Writes <dir>/dovecot.conf, runs `dovecot -F -c` on it and waits for the
  // first listener's greeting. Throws with the log's tail on failure.
  explicit dovecot_server(const dovecot_options& options);
  ~dovecot_server();
  dovecot_server(const dovecot_server&) = delete;
  dovecot_server& operator=(const dovecot_server&) = delete;
  // The master process: every Dovecot process of this instance is in its tree.
  pid_t pid() const { return pid_; }
  void stop();

 private:
  pid_t pid_ = -1;
};

// The generated configuration (exposed for the README and for debugging).
std::string dovecot_config(const dovecot_options& options);

// The last `lines` lines of a log file.
std::string tail_file(const fs::path& file, std::size_t lines = 20);

}  // namespace packmail::bench
