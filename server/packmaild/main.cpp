// packmaild: the packmail server. With no arguments it runs on the embedded
// defaults (docs/configuration.md): data in ./packmail-data, every listener
// on 127.0.0.1.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "config/config.h"
#include "data_dir/data_dir.h"
#include "net/server.h"
#include "packmail/protocols/imap/session.h"
#include "packmail/protocols/lmtp/session.h"
#include "packmail/protocols/pop3/session.h"
#include "packmail/replication/replication.h"
#include "packmail/storage/segment_replication.h"
#include "packmail/storage/store.h"
#include "tls/self_signed_cert.h"
#include "users/recipient_map.h"
#include "users/user_db.h"

namespace {

using namespace packmail::server;

enum class protocol_kind { imap, pop3, lmtp };

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("packmaild");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

// IMAP (RFC 3501): the sans-I/O session over the store, logins checked against
// the passwd-file (re-read when it changes).
session_factory imap_factory(const server_config& config, packmail::storage::mail_store* store,
                             std::shared_ptr<user_db> users,
                             std::shared_ptr<packmail::protocols::imap::recent_registry> recent,
                             bool implicit_tls) {
  namespace imap = packmail::protocols::imap;
  imap::session_config base;
  base.store = store;
  base.authenticate = [users](std::string_view login, std::string_view password) {
    return users->authenticate_user(login, password);
  };
  base.idle_timeout = config.limits.imap_idle_timeout;
  base.max_auth_failures = config.limits.auth_failure_limit;
  base.auth_failure_delay = config.limits.auth_failure_delay;
  base.recent = std::move(recent);
  base.starttls_available = !implicit_tls;
  base.limits.max_line = config.limits.max_line_length;
  base.limits.max_append_literal = config.limits.max_literal_size;
  base.limits.non_sync =
      config.imap.literal_plus ? imap::non_sync_literals::plus : imap::non_sync_literals::minus;
  base.max_pipelined_commands = config.limits.max_pipelined_commands;
  return [base](const packmail::protocols::connection_info& connection,
                packmail::protocols::wake_function wake) {
    return std::make_unique<imap::session>(base, connection, std::move(wake));
  };
}

// POP3 (RFC 1939): the maildrop is INBOX; one registry of held maildrops for
// the pop3 and pop3s listeners (a second session gets -ERR [IN-USE]).
session_factory pop3_factory(const server_config& config, packmail::storage::mail_store* store,
                             std::shared_ptr<user_db> users,
                             std::shared_ptr<packmail::protocols::pop3::maildrop_locks> locks,
                             bool implicit_tls) {
  namespace pop3 = packmail::protocols::pop3;
  pop3::session_config base;
  base.store = store;
  base.authenticate = [users](std::string_view login, std::string_view password) {
    return users->authenticate_user(login, password);
  };
  base.idle_timeout = config.limits.pop3_idle_timeout;
  base.max_auth_failures = config.limits.auth_failure_limit;
  base.auth_failure_delay = config.limits.auth_failure_delay;
  base.stls_available = !implicit_tls;
  base.max_line = config.limits.max_line_length;
  base.max_pipelined_commands = config.limits.max_pipelined_commands;
  base.locks = std::move(locks);
  return [base](const packmail::protocols::connection_info& connection,
                packmail::protocols::wake_function wake) {
    return std::make_unique<pop3::session>(base, connection, std::move(wake));
  };
}

// LMTP (RFC 2033): recipients resolved against the passwd-file.
session_factory lmtp_factory(const server_config& config, packmail::storage::mail_store* store,
                             std::shared_ptr<user_db> users, const std::string& host) {
  namespace lmtp = packmail::protocols::lmtp;
  lmtp::session_config base;
  base.store = store;
  base.resolve = lmtp_recipient_resolver(std::move(users));
  base.host_name = host;
  base.max_message_size = config.limits.max_literal_size;
  base.max_recipients = config.limits.lmtp_max_recipients;
  base.max_line = config.limits.max_line_length;
  base.idle_timeout = config.limits.lmtp_idle_timeout;
  return [base](const packmail::protocols::connection_info& connection,
                packmail::protocols::wake_function wake) {
    return std::make_unique<lmtp::session>(base, connection, std::move(wake));
  };
}

packmail::protocols::refusal_function refusal_for(protocol_kind kind) {
  switch (kind) {
    case protocol_kind::imap:
      return packmail::protocols::imap::refusal;
    case protocol_kind::pop3:
      return packmail::protocols::pop3::refusal;
    case protocol_kind::lmtp:
      return packmail::protocols::lmtp::refusal;
  }
  return {};
}

api_reply json_reply(unsigned status, const nlohmann::json& body) { return {status, body.dump()}; }

api_reply api_error(unsigned status, const std::string& message) {
  return json_reply(status, {{"error", message}});
}

// The replication part of the admin API, shared by both roles:
//   GET  /api/replication          status (replication.h)
//   POST /api/replication/promote  a mirror becomes primary
//   POST /api/replication/verify   primary: compare digests with a mirror
struct replication_api {
  std::function<nlohmann::json()> status;
  std::function<api_reply()> promote;
  std::function<api_reply()> verify;

  api_reply operator()(const std::string& method, const std::string& path,
                       const std::string& /*body*/) const {
    auto only = [&](const char* allowed) -> std::optional<api_reply> {
      if (method == allowed) return std::nullopt;
      return api_error(405, std::string("method not allowed; use ") + allowed);
    };
    if (path == "/api/replication") {
      if (auto refused = only("GET")) return *refused;
      return json_reply(200, status());
    }
    if (path == "/api/replication/promote") {
      if (auto refused = only("POST")) return *refused;
      return promote();
    }
    if (path == "/api/replication/verify") {
      if (auto refused = only("POST")) return *refused;
      return verify();
    }
    return api_error(404, "not found: " + path);
  }
};

packmail::storage::segment_options store_options_for(const server_config& config) {
  packmail::storage::segment_options o{.path = config.data_dir / "shards" / "default"};
  if (config.replication.listen || config.replication.primary) {
    // Mirrors catch up from the WAL archive; a mirror may be promoted.
    o.wal_archive_seconds = static_cast<std::uint64_t>(config.replication.wal_retention.count());
    o.wal_archive_mb = config.replication.wal_retention_mb;
  }
  return o;
}

server_options base_options(const server_config& config, std::shared_ptr<user_db> users) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  server_options options;
  options.admin = config.listen.admin;
  options.io_threads = config.io_threads != 0 ? config.io_threads : cores;
  options.session_threads = config.session_threads != 0 ? config.session_threads : 4 * cores;
  options.shutdown_timeout = config.shutdown_timeout;
  options.max_connections = config.limits.max_connections;
  options.max_connections_per_ip = config.limits.max_connections_per_ip;
  options.version = PACKMAIL_VERSION;
  options.user_count = [users] { return users->user_count(); };
  options.api_token = secret_file(config.data_dir / "admin.token", true);
  return options;
}

// A mirror: follows the primary and serves only the admin listener until it
// is promoted (true) or stopped (false).
bool run_mirror(const server_config& config, std::shared_ptr<user_db> users, const tls_files& tls) {
  namespace repl = packmail::replication;
  repl::mirror_options mo;
  mo.primary_host = config.replication.primary->host;
  mo.primary_port = config.replication.primary->port;
  mo.secret = secret_file(config.replication_secret_path(), false);
  mo.store = store_options_for(config);
  mo.work_dir = config.data_dir / "replication";
  repl::mirror follower(mo);

  std::atomic<bool> promoted{false};
  std::thread stopper;
  std::unique_ptr<server> srv;
  server_options options = base_options(config, users);
  options.tls_cert = tls.cert;
  options.tls_key = tls.key;
  options.api = replication_api{
      [&] { return follower.status(); },
      [&]() -> api_reply {
        if (promoted.exchange(true)) return api_error(409, "already promoted");
        auto epoch = follower.promote();
        if (!epoch.ok()) {
          promoted = false;
          return api_error(409, epoch.error().message());
        }
        // Answer first, then restart the listeners as a primary.
        stopper = std::thread([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          srv->stop();
        });
        return json_reply(200, {{"promoted", true}, {"epoch", epoch.value()}});
      },
      [] { return api_error(409, "this node is a mirror; verify on the primary"); }};
  srv = std::make_unique<server>(std::move(options));
  std::string ready;
  for (const auto& [name, address] : srv->bound_addresses()) ready += " " + name + " " + address;
  spdlog::info("packmaild mirror of {}: no mail service until promoted;{}",
               config.replication.primary->to_string(), ready);
  srv->run();
  if (stopper.joinable()) stopper.join();
  return promoted;
}

int run(const std::optional<std::string>& config_file, const config_overrides& flags) {
  std::optional<std::filesystem::path> file;
  if (config_file) file = *config_file;
  const server_config config = load_config(file, flags);
  setup_logging(config.log_level);

  data_dir_lock lock(config.data_dir);
  spdlog::info("packmaild {} starting; data directory {}", PACKMAIL_VERSION,
               config.data_dir.string());

  tls_files tls;
  if (config.tls_cert) {
    tls = {*config.tls_cert, *config.tls_key, false};
    check_certificate_pair(tls.cert, tls.key);
  } else {
    tls = ensure_self_signed_certificate(config.data_dir / "tls");
    spdlog::info("{} self-signed certificate {}", tls.generated ? "generated" : "using",
                 tls.cert.string());
  }

  auto users =
      std::make_shared<user_db>(config.users_path(), std::chrono::seconds(1), config.delivery);

  if (config.replication.primary && !run_mirror(config, users, tls)) {
    spdlog::info("packmaild stopped");
    return 0;
  }

  const auto store_options = store_options_for(config);
  auto store = packmail::storage::open_segment_store(store_options);
  if (!store.ok()) {
    throw std::runtime_error("cannot open the store in " + store_options.path.string() + ": " +
                             store.error().to_string());
  }
  packmail::storage::mail_store* served = store.value().get();
  std::unique_ptr<packmail::replication::primary> replication;
  std::unique_ptr<packmail::storage::mail_store> replicated;
  if (config.replication.listen) {
    namespace repl = packmail::replication;
    repl::primary_options po;
    po.host = config.replication.listen->host;
    po.port = config.replication.listen->port;
    po.secret = secret_file(config.replication_secret_path(), true);
    po.mode = config.replication.sync ? repl::durability::sync : repl::durability::async;
    po.ack_timeout = config.replication.ack_timeout;
    po.work_dir = config.data_dir / "replication";
    po.bootstrap_rate = config.replication.bootstrap_rate;
    po.adaptive_rate = config.replication.adaptive_rate;
    replication = std::make_unique<repl::primary>(po, *store.value());
    replicated = repl::make_replicated_store(*store.value(), *replication);
    served = replicated.get();
  }

  server_options options = base_options(config, users);
  const std::string host = host_name();
  // Shared by the listeners of a protocol: \Recent goes to one IMAP session
  // (imap or imaps), a maildrop to one POP3 session (pop3 or pop3s).
  auto recent = std::make_shared<packmail::protocols::imap::recent_registry>();
  auto pop3_locks = std::make_shared<packmail::protocols::pop3::maildrop_locks>();
  auto factory_for = [&](protocol_kind kind, bool tls_on) -> session_factory {
    switch (kind) {
      case protocol_kind::imap:
        return imap_factory(config, served, users, recent, tls_on);
      case protocol_kind::pop3:
        return pop3_factory(config, served, users, pop3_locks, tls_on);
      case protocol_kind::lmtp:
        return lmtp_factory(config, served, users, host);
    }
    return {};
  };
  auto add = [&](const std::optional<listen_address>& address, const char* name, bool tls_on,
                 protocol_kind kind) {
    if (!address) return;
    session_factory factory = factory_for(kind, tls_on);
    listener_options listener;
    listener.name = name;
    listener.address = *address;
    listener.implicit_tls = tls_on;
    listener.factory = std::move(factory);
    listener.refusal = refusal_for(kind);
    options.listeners.push_back(std::move(listener));
  };
  add(config.listen.imap, "imap", false, protocol_kind::imap);
  add(config.listen.imaps, "imaps", true, protocol_kind::imap);
  add(config.listen.pop3, "pop3", false, protocol_kind::pop3);
  add(config.listen.pop3s, "pop3s", true, protocol_kind::pop3);
  add(config.listen.lmtp, "lmtp", false, protocol_kind::lmtp);
  if (config.listen.lmtp_socket) {
    listener_options listener;
    listener.name = "lmtp-socket";
    listener.unix_path = config.lmtp_socket_path();
    listener.factory = factory_for(protocol_kind::lmtp, false);
    listener.refusal = refusal_for(protocol_kind::lmtp);
    options.listeners.push_back(std::move(listener));
  }
  options.tls_cert = tls.cert;
  options.tls_key = tls.key;
  auto* segment = store.value().get();
  options.api = replication_api{[&, segment]() -> nlohmann::json {
                                  if (replication) return replication->status();
                                  const auto db = packmail::storage::segment_db::of_store(*segment);
                                  auto history = packmail::storage::segment_db::read_epochs(db);
                                  return {{"role", "primary"},
                                          {"epoch", history.ok() ? history.value().current : 0},
                                          {"sequence", db.db->GetLatestSequenceNumber()},
                                          {"mode", "off"},
                                          {"mirrors", nlohmann::json::array()}};
                                },
                                [] { return api_error(409, "this node is already the primary"); },
                                [&]() -> api_reply {
                                  if (!replication)
                                    return api_error(409, "replication is off on this node");
                                  auto result = replication->verify();
                                  if (!result.ok()) return api_error(503, result.error().message());
                                  return json_reply(200, result.value());
                                }};

  server srv(std::move(options));
  std::string ready;
  for (const auto& [name, address] : srv.bound_addresses()) {
    ready += (ready.empty() ? "" : ", ") + name + " " + address;
  }
  if (replication) {
    ready += fmt::format(", replication {}:{} ({})", config.replication.listen->host,
                         replication->bound_port(), config.replication.sync ? "sync" : "async");
  }
  spdlog::info("packmaild ready: {}", ready.empty() ? "no listeners" : ready);
  srv.run();

  // Flushes and closes the store before the lock goes; the mirrors go first.
  replicated.reset();
  replication.reset();
  store.value().reset();
  spdlog::info("packmaild stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM/SIGINT wait, pending, until server::run() handles them: one that
  // arrives during start-up (opening the store can take a while) then stops
  // packmaild cleanly once it is up, instead of killing it half-started.
  // Every thread started from here on inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  CLI::App app{"packmaild: the packmail IMAP, POP3 and LMTP server"};
  app.set_version_flag("--version", PACKMAIL_VERSION);
  std::optional<std::string> config_file, data_dir, users_file, tls_cert, tls_key;
  config_overrides flags;
  app.add_option("--config", config_file, "TOML configuration file (docs/configuration.md)");
  app.add_option("--data-dir", data_dir, "data directory (default ./packmail-data)");
  const char* addr_help = "ADDR:PORT, [IPv6]:PORT or off";
  app.add_option("--imap", flags.imap, std::string("IMAP listener: ") + addr_help);
  app.add_option("--imaps", flags.imaps, std::string("IMAPS listener: ") + addr_help);
  app.add_option("--pop3", flags.pop3, std::string("POP3 listener: ") + addr_help);
  app.add_option("--pop3s", flags.pop3s, std::string("POP3S listener: ") + addr_help);
  app.add_option("--lmtp", flags.lmtp, std::string("LMTP listener: ") + addr_help);
  app.add_option("--admin", flags.admin, std::string("admin HTTP listener: ") + addr_help);
  app.add_option("--lmtp-socket", flags.lmtp_socket,
                 "LMTP unix socket: PATH (relative to the data dir) or off (default lmtp.sock)");
  app.add_option("--replication", flags.replication,
                 std::string("accept mirrors on this address: ") + addr_help);
  app.add_option("--replicate-from", flags.replicate_from,
                 "run as the mirror of the primary at ADDR:PORT (or off)");
  app.add_option("--replication-secret-file", flags.replication_secret_file,
                 "shared replication secret (default <data-dir>/replication.secret)");
  app.add_option("--replication-mode", flags.replication_mode, "sync (default) or async");
  app.add_option("--users", users_file, "passwd-file (default <data-dir>/users)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain (default: self-signed)");
  app.add_option("--tls-key", tls_key, "PEM private key");
  app.add_option("--log-level", flags.log_level,
                 "trace, debug, info, warn, error, critical or off (default info)");
  // A flag given twice: the last one counts (scripts append overrides).
  for (auto* option : app.get_options()) {
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (data_dir) flags.data_dir = *data_dir;
  if (users_file) flags.users_file = *users_file;
  if (tls_cert) flags.tls_cert = *tls_cert;
  if (tls_key) flags.tls_key = *tls_key;

  // Asio sends with MSG_NOSIGNAL; this covers any other write to a closed peer.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    return run(config_file, flags);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "packmaild: %s\n", e.what());
    return 1;
  }
}
