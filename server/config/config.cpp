#include "config/config.h"

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

namespace packmail::server {
namespace {

constexpr std::array<std::string_view, 7> k_log_levels = {"trace", "debug",    "info", "warn",
                                                          "error", "critical", "off"};

// Reads typed values out of toml nodes with errors naming source and key.
class reader {
 public:
  explicit reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw config_error(source_ + ": key '" + key + "' " + why);
  }

  std::string string(const toml::node& node, const std::string& key) const {
    const auto v = node.value<std::string>();
    if (!node.is_string() || !v) fail(key, "must be a string");
    return *v;
  }

  std::uint64_t integer(const toml::node& node, const std::string& key, std::uint64_t min,
                        std::uint64_t max) const {
    if (!node.is_integer()) fail(key, "must be an integer");
    const auto v = *node.value<std::int64_t>();
    if (v < 0 || static_cast<std::uint64_t>(v) < min || static_cast<std::uint64_t>(v) > max) {
      fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return static_cast<std::uint64_t>(v);
  }

  std::vector<std::string> strings(const toml::node& node, const std::string& key) const {
    const auto* array = node.as_array();
    if (array == nullptr) fail(key, "must be an array of strings");
    std::vector<std::string> out;
    for (const toml::node& element : *array) {
      const auto v = element.value<std::string>();
      if (!element.is_string() || !v) fail(key, "must be an array of strings");
      out.push_back(*v);
    }
    return out;
  }

  std::optional<listen_address> address(const toml::node& node, const std::string& key) const {
    const auto text = string(node, key);
    try {
      return parse_listen_address(text);
    } catch (const listen_address_error& e) {
      fail(key, std::string("has an ") + e.what());
    }
  }

 private:
  const std::string& source_;
};

using handler = std::function<void(const toml::node&, const std::string& key)>;

void walk(const toml::table& table, const std::string& prefix,
          const std::map<std::string, handler, std::less<>>& handlers, const reader& r) {
  for (auto&& [k, node] : table) {
    const std::string key = prefix + std::string(k.str());
    const auto it = handlers.find(std::string(k.str()));
    if (it == handlers.end()) {
      r.fail(key, "is unknown");
    }
    it->second(node, key);
  }
}

constexpr std::uint64_t k_u32_max = std::numeric_limits<std::uint32_t>::max();

// A domain in local_domains: a host name or an address literal, no '@' or
// blanks ("example.com", "[192.0.2.1]").
bool is_domain_name(std::string_view d) {
  if (d.empty() || d.size() > 255) return false;
  for (char c : d) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '@') return false;
  }
  return true;
}

// A unix socket path, or "off". sun_path holds 107 bytes and a NUL.
std::optional<std::filesystem::path> parse_socket_path(const std::string& text,
                                                       const std::string& key,
                                                       const std::string& source) {
  if (text == "off") return std::nullopt;
  if (text.empty() || text.size() > 107) {
    throw config_error(source + ": key '" + key + "' must be a path of 1 to 107 bytes or \"off\"");
  }
  return std::filesystem::path(text);
}

}  // namespace

void apply_config_toml(server_config& c, std::string_view toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw config_error(source + ":" + std::to_string(where.line) + ":" +
                       std::to_string(where.column) + ": " + std::string(e.description()));
  }
  const reader r(source);

  auto section = [&](std::map<std::string, handler, std::less<>> handlers) {
    return [&r, handlers = std::move(handlers)](const toml::node& node, const std::string& key) {
      if (!node.is_table()) r.fail(key, "must be a table ([" + key + "])");
      walk(*node.as_table(), key + ".", handlers, r);
    };
  };
  auto addr = [&](std::optional<listen_address>& field) -> handler {
    return [&](const toml::node& n, const std::string& key) { field = r.address(n, key); };
  };
  auto path = [&](std::optional<std::filesystem::path>& field) -> handler {
    return [&](const toml::node& n, const std::string& key) { field = r.string(n, key); };
  };
  auto unix_path = [&](std::optional<std::filesystem::path>& field) -> handler {
    return [&](const toml::node& n, const std::string& key) {
      field = parse_socket_path(r.string(n, key), key, source);
    };
  };
  auto seconds = [&](std::chrono::seconds& field, std::uint64_t min) -> handler {
    return [&, min](const toml::node& n, const std::string& key) {
      field = std::chrono::seconds(r.integer(n, key, min, 365 * 86400));
    };
  };

  // [delivery]: how recipients and login names name users.
  const handler local_domains = [&](const toml::node& n, const std::string& key) {
    auto domains = r.strings(n, key);
    for (const std::string& d : domains) {
      if (!is_domain_name(d)) r.fail(key, "has an invalid domain '" + d + "'");
    }
    c.delivery.local_domains = std::move(domains);
  };
  const handler recipient_delimiter = [&](const toml::node& n, const std::string& key) {
    auto delimiter = r.string(n, key);
    for (char ch : delimiter) {
      const auto u = static_cast<unsigned char>(ch);
      if (u <= 0x20 || u >= 0x7f || ch == '@') {
        r.fail(key, "must be printable ASCII characters other than '@'");
      }
    }
    c.delivery.recipient_delimiter = std::move(delimiter);
  };

  const std::
      map<std::string, handler, std::less<>>
          top =
              {
                  {"data_dir", [&](const toml::node& n,
                                   const std::string& key) { c.data_dir = r.string(n, key); }},
                  {"users_file", path(c.users_file)},
                  {"log_level", [&](const toml::node& n,
                                    const std::string& key) { c.log_level = r.string(n, key); }},
                  {"io_threads",
                   [&](const toml::node& n, const std::string& key) {
                     c.io_threads = static_cast<std::uint32_t>(r.integer(n, key, 0, 1024));
                   }},
                  {"session_threads",
                   [&](const toml::node& n, const std::string& key) {
                     c.session_threads = static_cast<std::uint32_t>(r.integer(n, key, 0, 4096));
                   }},
                  {"shutdown_timeout_seconds", seconds(c.shutdown_timeout, 0)},
                  {"listen", section({{"imap", addr(c.listen.imap)},
                                      {"imaps", addr(c.listen.imaps)},
                                      {"pop3", addr(c.listen.pop3)},
                                      {"pop3s", addr(c.listen.pop3s)},
                                      {"lmtp", addr(c.listen.lmtp)},
                                      {"lmtp_socket", unix_path(c.listen.lmtp_socket)},
                                      {"admin", addr(c.listen.admin)}})},
                  {"imap", section({{"literal_plus",
                                     [&](const toml::node& n, const std::string& key) {
                                       if (!n.is_boolean()) r.fail(key, "must be true or false");
                                       c.imap.literal_plus = *n.value<bool>();
                                     }}})},
                  {"tls", section({{"cert", path(c.tls_cert)}, {"key", path(c.tls_key)}})},
                  {"limits", section(
                                 {
                                     {"max_line_length",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.max_line_length =
                                            r.integer(n, key, 1024, 1ull << 30);
                                      }},
                                     {"max_literal_size",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.max_literal_size =
                                            r.integer(n, key, 1, 1ull << 40);
                                      }},
                                     {"max_connections",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.max_connections = static_cast<std::uint32_t>(
                                            r.integer(n, key, 1, k_u32_max));
                                      }},
                                     {"max_connections_per_ip",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.max_connections_per_ip =
                                            static_cast<std::uint32_t>(
                                                r.integer(n, key, 1, k_u32_max));
                                      }},
                                     {"auth_failure_delay_ms",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.auth_failure_delay =
                                            std::chrono::milliseconds(r.integer(n, key, 0, 60000));
                                      }},
                                     {"auth_failure_limit",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.auth_failure_limit = static_cast<std::uint32_t>(
                                            r.integer(n, key, 1, k_u32_max));
                                      }},
                                     {"imap_idle_timeout_seconds",
                                      seconds(c.limits.imap_idle_timeout, 1)},
                                     {"pop3_idle_timeout_seconds",
                                      seconds(c.limits.pop3_idle_timeout, 1)},
                                     {"lmtp_idle_timeout_seconds",
                                      seconds(c.limits.lmtp_idle_timeout, 1)},
                                     {"max_pipelined_commands",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.max_pipelined_commands =
                                            static_cast<std::uint32_t>(
                                                r.integer(n, key, 1, 100000));
                                      }},
                                     {"lmtp_max_recipients",
                                      [&](const toml::node& n, const std::string& key) {
                                        c.limits.lmtp_max_recipients = static_cast<std::uint32_t>(
                                            r.integer(n, key, 1, k_u32_max));
                                      }},
                                 })},
                  {"replication", section(
                                      {
                                          {"listen", addr(c.replication.listen)},
                                          {"primary", addr(c.replication.primary)},
                                          {"secret_file",
                                           [&](const toml::node& n, const std::string& key) {
                                             c.replication.secret_file = r.string(n, key);
                                           }},
                                          {"mode",
                                           [&](const toml::node& n, const std::string& key) {
                                             const auto mode = r.string(n, key);
                                             if (mode != "sync" && mode != "async")
                                               r.fail(key, "must be sync or async");
                                             c.replication.sync = mode == "sync";
                                           }},
                                          {"ack_timeout_ms",
                                           [&](const toml::node& n, const std::string& key) {
                                             c.replication.ack_timeout = std::chrono::milliseconds(
                                                 r.integer(n, key, 100, 600000));
                                           }},
                                          {"bootstrap_rate",
                                           [&](const toml::node& n, const std::string& key) {
                                             c.replication.bootstrap_rate =
                                                 r.integer(n, key, 0, 1ull << 40);
                                           }},
                                          {"adaptive_rate",
                                           [&](const toml::node& n, const std::string& key) {
                                             if (!n.is_boolean())
                                               r.fail(key, "must be true or false");
                                             c.replication.adaptive_rate = *n.value<bool>();
                                           }},
                                          {"wal_retention_seconds",
                                           seconds(c.replication.wal_retention, 1)},
                                          {"wal_retention_mb",
                                           [&](const toml::node& n, const std::string& key) {
                                             c.replication.wal_retention_mb =
                                                 r.integer(n, key, 0, 1ull << 30);
                                           }},
                                      })},
                  {"delivery", section({{"local_domains", local_domains},
                                        {"recipient_delimiter", recipient_delimiter}})},
              };
  walk(root, "", top, r);
}

void apply_overrides(server_config& c, const config_overrides& f) {
  if (f.data_dir) c.data_dir = *f.data_dir;
  auto addr = [](const std::optional<std::string>& flag, std::string_view name,
                 std::optional<listen_address>& field) {
    if (!flag) return;
    try {
      field = parse_listen_address(*flag);
    } catch (const listen_address_error& e) {
      throw config_error("--" + std::string(name) + ": " + e.what());
    }
  };
  addr(f.imap, "imap", c.listen.imap);
  addr(f.imaps, "imaps", c.listen.imaps);
  addr(f.pop3, "pop3", c.listen.pop3);
  addr(f.pop3s, "pop3s", c.listen.pop3s);
  addr(f.lmtp, "lmtp", c.listen.lmtp);
  addr(f.admin, "admin", c.listen.admin);
  if (f.lmtp_socket)
    c.listen.lmtp_socket = parse_socket_path(*f.lmtp_socket, "lmtp-socket", "--lmtp-socket");
  addr(f.replication, "replication", c.replication.listen);
  addr(f.replicate_from, "replicate-from", c.replication.primary);
  if (f.replication_secret_file) c.replication.secret_file = *f.replication_secret_file;
  if (f.replication_mode) {
    if (*f.replication_mode != "sync" && *f.replication_mode != "async") {
      throw config_error("--replication-mode: must be sync or async");
    }
    c.replication.sync = *f.replication_mode == "sync";
  }
  if (f.users_file) c.users_file = *f.users_file;
  if (f.tls_cert) c.tls_cert = *f.tls_cert;
  if (f.tls_key) c.tls_key = *f.tls_key;
  if (f.log_level) c.log_level = *f.log_level;
}

void validate(const server_config& c) {
  if (c.data_dir.empty()) throw config_error("data_dir is empty");
  if (std::find(k_log_levels.begin(), k_log_levels.end(), c.log_level) == k_log_levels.end()) {
    throw config_error("log_level '" + c.log_level +
                       "' is not one of trace, debug, info, warn, error, critical, off");
  }
  if (c.tls_cert.has_value() != c.tls_key.has_value()) {
    throw config_error(
        "tls cert and key must be given together (or neither, for a self-signed "
        "certificate)");
  }
  if (c.replication.primary && c.replication.primary->port == 0) {
    throw config_error("replication.primary needs a port");
  }
  const std::array<std::pair<std::string_view, const std::optional<listen_address>*>, 7> all = {{
      {"replication", &c.replication.listen},
      {"imap", &c.listen.imap},
      {"imaps", &c.listen.imaps},
      {"pop3", &c.listen.pop3},
      {"pop3s", &c.listen.pop3s},
      {"lmtp", &c.listen.lmtp},
      {"admin", &c.listen.admin},
  }};
  if (c.listen.lmtp_socket && c.lmtp_socket_path().string().size() > 107) {
    throw config_error("the LMTP socket path " + c.lmtp_socket_path().string() +
                       " is longer than 107 bytes (a unix socket's limit)");
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      const auto& a = *all[i].second;
      const auto& b = *all[j].second;
      if (a && b && *a == *b && a->port != 0) {
        throw config_error(std::string(all[i].first) + " and " + std::string(all[j].first) +
                           " both listen on " + a->to_string());
      }
    }
  }
}

server_config load_config(const std::optional<std::filesystem::path>& file,
                          const config_overrides& flags) {
  server_config c;
  if (file) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) throw config_error("cannot read config file " + file->string());
    std::ostringstream text;
    text << in.rdbuf();
    apply_config_toml(c, text.str(), file->string());
  }
  apply_overrides(c, flags);
  validate(c);
  return c;
}

}  // namespace packmail::server
