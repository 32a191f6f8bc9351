#include "common/servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "common/measure.h"

extern char** environ;

namespace packmail::bench {

namespace {

using steady = std::chrono::steady_clock;

// Children to stop on a signal: a fixed table, read by the signal handler.
constexpr std::size_t k_max_children = 32;
std::array<std::atomic<pid_t>, k_max_children> g_children{};

// The scratch directory, for the signal handler's last words.
char g_scratch[512] = {};

void register_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void unregister_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    slot.compare_exchange_strong(expected, 0);
  }
}

void on_signal(int) {
  // Async-signal-safe only: kill, waitpid, nanosleep, write, _exit.
  const char msg[] = "\nbench: interrupted; stopping the servers\n";
  [[maybe_unused]] auto n = write(STDERR_FILENO, msg, sizeof msg - 1);
  for (auto& slot : g_children) {
    if (pid_t pid = slot.load(); pid > 0) kill(pid, SIGTERM);
  }
  for (int i = 0; i < 100; ++i) {
    bool alive = false;
    for (auto& slot : g_children) {
      pid_t pid = slot.load();
      if (pid <= 0) continue;
      if (waitpid(pid, nullptr, WNOHANG) == 0) {
        alive = true;
      } else {
        slot.store(0);
      }
    }
    if (!alive) break;
    timespec ts{0, 50'000'000};
    nanosleep(&ts, nullptr);
  }
  for (auto& slot : g_children) {
    if (pid_t pid = slot.load(); pid > 0) kill(pid, SIGKILL);
  }
  if (g_scratch[0] != '\0') {
    const char left[] = "bench: scratch directory left behind: ";
    n = write(STDERR_FILENO, left, sizeof left - 1);
    n = write(STDERR_FILENO, g_scratch, strnlen(g_scratch, sizeof g_scratch));
    n = write(STDERR_FILENO, "\n", 1);
  }
  _exit(130);
}

// fork + exec with stdout/stderr to `log` (appended) and SIGTERM to the child
// when this process dies.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("open {}: {}", log.string(), strerror(errno)));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    throw std::runtime_error(fmt::format("fork: {}", strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    // The benchmark's own signal handlers are not the child's.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    // A new process group: a Ctrl-C on the terminal reaches the benchmark,
    // which stops the servers in order.
    setpgid(0, 0);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fd);
  register_child(pid);
  return pid;
}

// SIGTERM, wait up to `timeout`, SIGKILL; returns the exit status.
int stop_child(pid_t pid, std::chrono::seconds timeout) {
  if (pid <= 0) return 0;
  kill(pid, SIGTERM);
  const auto deadline = steady::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) break;
    if (steady::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  unregister_child(pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

fs::path source_dir() { return PACKMAIL_SOURCE_DIR; }

}  // namespace

void install_cleanup_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  // A peer closing first must not kill the load generator.
  signal(SIGPIPE, SIG_IGN);
}

pid_t start_process(const std::vector<std::string>& argv, const fs::path& log) {
  return spawn(argv, log);
}

int stop_process(pid_t pid, std::chrono::seconds timeout) { return stop_child(pid, timeout); }

// --- scratch_dir ------------------------------------------------------------------------

scratch_dir::scratch_dir(std::string_view prefix, bool keep) : keep_(keep) {
  std::string tmpl = fmt::format("/var/tmp/{}.XXXXXX", prefix);
  if (!mkdtemp(tmpl.data())) {
    throw std::runtime_error(fmt::format("mkdtemp {}: {}", tmpl, strerror(errno)));
  }
  path_ = tmpl;
  chmod(path_.c_str(), 0755);
  std::snprintf(g_scratch, sizeof g_scratch, "%s", path_.c_str());
}

scratch_dir::~scratch_dir() {
  g_scratch[0] = '\0';
  if (keep_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// --- commands ---------------------------------------------------------------------------

int run_command(const std::vector<std::string>& argv, const std::string& input,
                std::string* output) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return -1;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  if (pid < 0) {
    close(in[1]);
    close(out[0]);
    return -1;
  }
  // Small inputs (a password): the pipe takes them whole.
  [[maybe_unused]] auto w = write(in[1], input.data(), input.size());
  close(in[1]);
  std::string text;
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output) *output = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error(fmt::format("free_port: {}", strerror(errno)));
  }
  close(fd);
  return ntohs(a.sin_port);
}

std::optional<std::string> wait_for_greeting(std::uint16_t port, pid_t pid,
                                             std::chrono::seconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (steady::now() < deadline) {
    if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == pid) {
      unregister_child(pid);
      return std::nullopt;
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      std::string line;
      char ch = 0;
      pollfd p{fd, POLLIN, 0};
      while (line.size() < 1000 && poll(&p, 1, 5000) == 1 && read(fd, &ch, 1) == 1 && ch != '\n') {
        line += ch;
      }
      close(fd);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) return line;
    } else {
      close(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

fs::path find_build_binary(const char* argv0, const std::string& name, const std::string& given) {
  if (!given.empty()) return fs::absolute(given);
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::absolute(argv0);
  return self.parent_path().parent_path() / "server" / name;
}

bench_users create_users(const fs::path& packmailctl, const fs::path& file, unsigned count,
                         const std::string& scheme) {
  bench_users users;
  users.scheme = scheme;
  users.file = file;
  std::error_code ec;
  fs::remove(file, ec);
  for (unsigned i = 0; i < count; ++i) {
    users.names.push_back(fmt::format("user{:04}", i));
    std::string out;
    const int rc = run_command({packmailctl.string(), "--users", file.string(), "user", "add",
                                users.names.back(), "--scheme", scheme, "--password-stdin"},
                               users.password + "\n", &out);
    if (rc != 0) {
      throw std::runtime_error(fmt::format("{} user add {} failed ({}): {}", packmailctl.string(),
                                           users.names.back(), rc, out));
    }
  }
  // Dovecot's auth process runs unprivileged and reads the file.
  chmod(file.c_str(), 0644);
  return users;
}

std::string tail_file(const fs::path& file, std::size_t lines) {
  std::ifstream in(file);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "    " + l + "\n";
  return out;
}

// --- packmaild --------------------------------------------------------------------------

namespace {

std::string listen_value(std::uint16_t port) {
  return port ? fmt::format("\"127.0.0.1:{}\"", port) : "\"off\"";
}

}  // namespace

packmail_server::packmail_server(const packmail_options& options) {
  fs::create_directories(options.dir);
  const fs::path config = options.dir / "packmail.toml";
  write_file(config, fmt::format(R"(# generated by the packmail protocol benchmarks
data_dir = "{}"
users_file = "{}"

[listen]
imap = {}
imaps = "off"
pop3 = {}
pop3s = "off"
lmtp = {}
admin = "off"

[limits]
max_connections = {}
max_connections_per_ip = {}
)",
                                 (options.dir / "data").string(), options.users_file.string(),
                                 listen_value(options.imap_port), listen_value(options.pop3_port),
                                 listen_value(options.lmtp_port), options.max_connections,
                                 options.max_connections));
  const fs::path log = options.dir / "packmaild.log";
  pid_ = spawn({options.packmaild.string(), "--config", config.string()}, log);
  const std::uint16_t probe = options.imap_port
                                  ? options.imap_port
                                  : (options.pop3_port ? options.pop3_port : options.lmtp_port);
  if (!wait_for_greeting(probe, pid_, std::chrono::seconds(60))) {
    stop();
    throw std::runtime_error(fmt::format("packmaild did not come up on port {}; {}:\n{}", probe,
                                         log.string(), tail_file(log)));
  }
}

packmail_server::~packmail_server() { stop(); }

void packmail_server::stop() {
  if (pid_ > 0) stop_child(pid_, std::chrono::seconds(30));
  pid_ = -1;
}

// --- Dovecot ----------------------------------------------------------------------------

std::string ensure_dovecot_installed() {
  std::string out;
  if (run_command({"dovecot", "--version"}, "", &out) != 0) {
    const fs::path script = source_dir() / "scripts" / "bench-install-dovecot.sh";
    fmt::print(stderr, "dovecot is not installed: running {}\n", script.string());
    if (run_command({script.string()}, "", &out) != 0) {
      throw std::runtime_error(fmt::format("{} failed:\n{}", script.string(), out));
    }
    if (run_command({"dovecot", "--version"}, "", &out) != 0) {
      throw std::runtime_error("dovecot --version failed after installing: " + out);
    }
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

system_user ensure_system_user(const std::string& name) {
  std::string out;
  if (run_command({"id", "-u", name}, "", &out) != 0) {
    if (run_command({"useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                     "--shell", "/usr/sbin/nologin", name},
                    "", &out) != 0) {
      throw std::runtime_error(fmt::format("useradd {} failed: {}", name, out));
    }
  }
  system_user u;
  u.name = name;
  run_command({"id", "-u", name}, "", &out);
  u.uid = static_cast<unsigned>(std::stoul(out));
  run_command({"id", "-g", name}, "", &out);
  u.gid = static_cast<unsigned>(std::stoul(out));
  return u;
}

const char* mode_name(dovecot_login_mode mode) {
  return mode == dovecot_login_mode::standard ? "default" : "performance";
}

std::string dovecot_config(const dovecot_options& o) {
  const auto listener = [](const char* name, std::uint16_t port) {
    return port ? fmt::format(
                      "  inet_listener {} {{\n    address = 127.0.0.1\n    port = {}\n  }}\n", name,
                      port)
                : fmt::format("  inet_listener {} {{\n    port = 0\n  }}\n", name);
  };
  const unsigned processes = std::max(1024u, o.max_connections + 100);
  // auth and anvil must take every login process's clients (doveconf warns).
  const unsigned clients = 4 * processes;
  const bool performance = o.mode == dovecot_login_mode::performance;
  // High-performance login processes (Dovecot's "Login processes" page): one
  // process per CPU core, each serving many connections.
  const std::string login_mode =
      performance ? fmt::format("  service_count = 0\n  process_min_avail = {}\n  vsz_limit = 1G\n",
                                cpu_count())
                  : std::string("  # service_count = 1 (default): one process per connection\n");
  std::string c;
  c += fmt::format(R"(# Generated by the packmail protocol benchmarks (bench/common/servers.cpp).
# Dovecot defaults everywhere except: own ports, directories and users, no SSL,
# plaintext auth allowed on loopback, and limits raised to fit {} connections.
# Login mode: {}.
instance_name = packmail-bench
base_dir = {}
state_dir = {}
log_path = {}
protocols = {}{}{}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = {}
mail_uid = {}
mail_gid = {}
first_valid_uid = {}
first_valid_gid = {}
default_process_limit = {}
default_client_limit = {}

namespace inbox {{
  inbox = yes
}}

passdb {{
  driver = passwd-file
  args = {}
}}
userdb {{
  driver = static
  args = uid={} gid={} home={}/%u
}}

protocol imap {{
  mail_max_userip_connections = {}
}}
protocol pop3 {{
  mail_max_userip_connections = {}
}}
protocol lmtp {{
  # Recipients are user0000@example.com; the users are named user0000.
  auth_username_format = %Ln
}}

service imap-login {{
{}{}{}}}
service pop3-login {{
{}{}{}}}
service lmtp {{
{}}}
service imap {{
  process_limit = {}
}}
service pop3 {{
  process_limit = {}
}}
)",
                   o.max_connections, mode_name(o.mode), (o.dir / "run").string(),
                   (o.dir / "state").string(), (o.dir / "dovecot.log").string(),
                   o.imap_port ? "imap " : "", o.pop3_port ? "pop3 " : "",
                   o.lmtp_port ? "lmtp" : "", o.mail_location, o.mail_user.name, o.mail_user.name,
                   o.mail_user.uid, o.mail_user.gid, processes, clients, o.users_file.string(),
                   o.mail_user.uid, o.mail_user.gid, o.home_root.string(), o.max_connections + 100,
                   o.max_connections + 100, listener("imap", o.imap_port), listener("imaps", 0),
                   login_mode, listener("pop3", o.pop3_port), listener("pop3s", 0), login_mode,
                   listener("lmtp", o.lmtp_port), processes, processes);
  return c;
}

dovecot_server::dovecot_server(const dovecot_options& options) {
  fs::create_directories(options.dir / "state");
  fs::create_directories(options.home_root);
  chown(options.home_root.c_str(), options.mail_user.uid, options.mail_user.gid);
  const fs::path config = options.dir / "dovecot.conf";
  write_file(config, dovecot_config(options));
  const fs::path log = options.dir / "dovecot.log";
  const fs::path out = options.dir / "dovecot.out";
  pid_ = spawn({"dovecot", "-F", "-c", config.string()}, out);
  const std::uint16_t probe = options.imap_port
                                  ? options.imap_port
                                  : (options.pop3_port ? options.pop3_port : options.lmtp_port);
  if (!wait_for_greeting(probe, pid_, std::chrono::seconds(60))) {
    stop();
    throw std::runtime_error(fmt::format("dovecot did not come up on port {}; {}:\n{}{}:\n{}",
                                         probe, out.string(), tail_file(out), log.string(),
                                         tail_file(log)));
  }
}

dovecot_server::~dovecot_server() { stop(); }

void dovecot_server::stop() {
  if (pid_ > 0) stop_child(pid_, std::chrono::seconds(30));
  pid_ = -1;
}

}  // namespace packmail::bench
