#include "config/config.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "temp_dir.h"

using namespace packmail::server;
using namespace std::chrono_literals;

TEST_CASE("defaults are the documented ones") {
  const server_config c;
  CHECK(c.data_dir == "packmail-data");
  CHECK(c.users_path() == std::filesystem::path("packmail-data") / "users");
  CHECK(c.listen.imap->to_string() == "127.0.0.1:1143");
  CHECK(c.listen.imaps->to_string() == "127.0.0.1:1993");
  CHECK(c.listen.pop3->to_string() == "127.0.0.1:1110");
  CHECK(c.listen.pop3s->to_string() == "127.0.0.1:1995");
  CHECK(c.listen.lmtp->to_string() == "127.0.0.1:2424");
  CHECK(c.listen.admin->to_string() == "127.0.0.1:8143");
  CHECK(c.log_level == "info");
  CHECK_FALSE(c.tls_cert);
  CHECK(c.limits.max_line_length == 65536);
  CHECK(c.limits.max_literal_size == 64ull << 20);
  CHECK(c.limits.imap_idle_timeout == 1800s);
  CHECK(c.limits.pop3_idle_timeout == 600s);
  CHECK(c.limits.lmtp_max_recipients == 500);
  CHECK(c.delivery.local_domains.empty());
  CHECK(c.delivery.recipient_delimiter == "+");
  CHECK_NOTHROW(validate(c));
}

TEST_CASE("every key of the file is applied") {
  server_config c;
  apply_config_toml(c, R"(
data_dir = "/srv/mail"
users_file = "/etc/packmail/users"
log_level = "debug"
io_threads = 3
session_threads = 9
shutdown_timeout_seconds = 4

[listen]
imap = "0.0.0.0:143"
imaps = "[::]:993"
pop3 = "off"
pop3s = "127.0.0.1:995"
lmtp = "127.0.0.1:24"
admin = "off"

[tls]
cert = "/etc/ssl/c.pem"
key = "/etc/ssl/k.pem"

[limits]
max_line_length = 8192
max_literal_size = 1048576
max_connections = 10
max_connections_per_ip = 2
auth_failure_delay_ms = 500
auth_failure_limit = 5
imap_idle_timeout_seconds = 3600
pop3_idle_timeout_seconds = 700
lmtp_idle_timeout_seconds = 60
lmtp_max_recipients = 100

[delivery]
local_domains = ["example.com", "Example.ORG"]
recipient_delimiter = "+-"
)",
                    "test.toml");
  CHECK(c.data_dir == "/srv/mail");
  CHECK(c.users_path() == "/etc/packmail/users");
  CHECK(c.log_level == "debug");
  CHECK(c.io_threads == 3);
  CHECK(c.session_threads == 9);
  CHECK(c.shutdown_timeout == 4s);
  CHECK(c.listen.imap->to_string() == "0.0.0.0:143");
  CHECK(c.listen.imaps->to_string() == "[::]:993");
  CHECK_FALSE(c.listen.pop3);
  CHECK(c.listen.pop3s->port == 995);
  CHECK(c.listen.lmtp->port == 24);
  CHECK_FALSE(c.listen.admin);
  CHECK(*c.tls_cert == "/etc/ssl/c.pem");
  CHECK(*c.tls_key == "/etc/ssl/k.pem");
  CHECK(c.limits.max_line_length == 8192);
  CHECK(c.limits.max_literal_size == 1048576);
  CHECK(c.limits.max_connections == 10);
  CHECK(c.limits.max_connections_per_ip == 2);
  CHECK(c.limits.auth_failure_delay == 500ms);
  CHECK(c.limits.auth_failure_limit == 5);
  CHECK(c.limits.imap_idle_timeout == 3600s);
  CHECK(c.limits.pop3_idle_timeout == 700s);
  CHECK(c.limits.lmtp_idle_timeout == 60s);
  CHECK(c.limits.lmtp_max_recipients == 100);
  CHECK(c.delivery.local_domains == std::vector<std::string>{"example.com", "Example.ORG"});
  CHECK(c.delivery.recipient_delimiter == "+-");
  CHECK_NOTHROW(validate(c));
}

TEST_CASE("keys the file does not set keep their defaults") {
  server_config c;
  apply_config_toml(c, "[listen]\nimap = \"127.0.0.1:2143\"\n", "t.toml");
  CHECK(c.listen.imap->port == 2143);
  CHECK(c.listen.imaps->port == 1993);
  CHECK(c.data_dir == "packmail-data");
}

TEST_CASE("an unknown key is an error naming the key") {
  server_config c;
  CHECK_THROWS_WITH(apply_config_toml(c, "[limits]\nmax_lines = 3\n", "p.toml"),
                    Catch::Contains("p.toml") && Catch::Contains("'limits.max_lines'") &&
                        Catch::Contains("unknown"));
  CHECK_THROWS_WITH(apply_config_toml(c, "datadir = \"x\"\n", "p.toml"),
                    Catch::Contains("'datadir'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[imap]\nport = 1\n", "p.toml"),
                    Catch::Contains("'imap.port'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[smtp]\nport = 1\n", "p.toml"),
                    Catch::Contains("'smtp'"));
}

TEST_CASE("the LMTP socket: relative to the data dir, absolute, or off") {
  server_config c;
  CHECK(c.lmtp_socket_path() == std::filesystem::path("packmail-data/lmtp.sock"));
  apply_config_toml(c, "data_dir = \"/srv/mail\"\n[listen]\nlmtp_socket = \"run/lmtp\"\n",
                    "p.toml");
  CHECK(c.lmtp_socket_path() == std::filesystem::path("/srv/mail/run/lmtp"));
  apply_config_toml(c, "[listen]\nlmtp_socket = \"/run/packmail/lmtp\"\n", "p.toml");
  CHECK(c.lmtp_socket_path() == std::filesystem::path("/run/packmail/lmtp"));
  apply_config_toml(c, "[listen]\nlmtp_socket = \"off\"\n", "p.toml");
  CHECK_FALSE(c.listen.lmtp_socket.has_value());
  CHECK_THROWS_WITH(
      apply_config_toml(c, "[listen]\nlmtp_socket = \"/" + std::string(200, 'x') + "\"\n",
                        "p.toml"),
      Catch::Contains("'listen.lmtp_socket'"));
  config_overrides flags;
  flags.lmtp_socket = "off";
  CHECK_FALSE(load_config(std::nullopt, flags).listen.lmtp_socket.has_value());
  flags.lmtp_socket = "/tmp/x.sock";
  CHECK(load_config(std::nullopt, flags).lmtp_socket_path() == "/tmp/x.sock");
}

TEST_CASE("IMAP literals and the pipelining limit") {
  server_config c;
  CHECK(c.imap.literal_plus);
  CHECK(c.limits.max_pipelined_commands == 32);
  apply_config_toml(c, "[imap]\nliteral_plus = false\n[limits]\nmax_pipelined_commands = 4\n",
                    "p.toml");
  CHECK_FALSE(c.imap.literal_plus);
  CHECK(c.limits.max_pipelined_commands == 4);
  CHECK_THROWS_WITH(apply_config_toml(c, "[imap]\nliteral_plus = 1\n", "p.toml"),
                    Catch::Contains("'imap.literal_plus'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[limits]\nmax_pipelined_commands = 0\n", "p.toml"),
                    Catch::Contains("'limits.max_pipelined_commands'"));
}

TEST_CASE("wrong types and values out of range are errors naming the key") {
  server_config c;
  CHECK_THROWS_WITH(apply_config_toml(c, "[limits]\nmax_connections = \"ten\"\n", "p.toml"),
                    Catch::Contains("'limits.max_connections'") && Catch::Contains("integer"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[limits]\nmax_connections = 0\n", "p.toml"),
                    Catch::Contains("'limits.max_connections'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[limits]\nmax_line_length = -5\n", "p.toml"),
                    Catch::Contains("'limits.max_line_length'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "data_dir = 5\n", "p.toml"),
                    Catch::Contains("'data_dir'") && Catch::Contains("string"));
  CHECK_THROWS_WITH(apply_config_toml(c, "listen = 5\n", "p.toml"), Catch::Contains("'listen'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[listen]\nimap = \"nowhere\"\n", "p.toml"),
                    Catch::Contains("'listen.imap'") && Catch::Contains("nowhere"));
}

TEST_CASE("delivery keys: an empty delimiter turns it off, bad values name the key") {
  server_config c;
  apply_config_toml(c, "[delivery]\nrecipient_delimiter = \"\"\nlocal_domains = []\n", "d.toml");
  CHECK(c.delivery.recipient_delimiter.empty());
  CHECK(c.delivery.local_domains.empty());
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\nlocal_domains = \"example.com\"\n", "d.toml"),
                    Catch::Contains("'delivery.local_domains'") && Catch::Contains("array"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\nlocal_domains = [\"a.b\", 3]\n", "d.toml"),
                    Catch::Contains("'delivery.local_domains'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\nlocal_domains = [\"\"]\n", "d.toml"),
                    Catch::Contains("'delivery.local_domains'") && Catch::Contains("invalid"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\nlocal_domains = [\"a@b.c\"]\n", "d.toml"),
                    Catch::Contains("'delivery.local_domains'") && Catch::Contains("a@b.c"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\nrecipient_delimiter = \"@\"\n", "d.toml"),
                    Catch::Contains("'delivery.recipient_delimiter'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\nrecipient_delimiter = \" \"\n", "d.toml"),
                    Catch::Contains("'delivery.recipient_delimiter'"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\nrecipient_delimiter = 1\n", "d.toml"),
                    Catch::Contains("'delivery.recipient_delimiter'") && Catch::Contains("string"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[delivery]\ndomains = []\n", "d.toml"),
                    Catch::Contains("'delivery.domains'") && Catch::Contains("unknown"));
  CHECK_THROWS_WITH(apply_config_toml(c, "[limits]\nlmtp_max_recipients = 0\n", "d.toml"),
                    Catch::Contains("'limits.lmtp_max_recipients'"));
}

TEST_CASE("a syntax error names file, line and column") {
  server_config c;
  CHECK_THROWS_WITH(apply_config_toml(c, "data_dir = \"x\"\n[limits\n", "p.toml"),
                    Catch::StartsWith("p.toml:2:"));
}

TEST_CASE("flags override the file, the file overrides the defaults") {
  testing::temp_dir dir;
  const auto file = dir / "packmail.toml";
  std::ofstream(file) << "data_dir = \"from-file\"\nlog_level = \"warn\"\n"
                         "[listen]\nimap = \"127.0.0.1:3143\"\npop3 = \"127.0.0.1:3110\"\n";
  config_overrides flags;
  flags.imap = "[::1]:4143";
  flags.lmtp = "off";
  flags.log_level = "error";
  const auto c = load_config(file, flags);
  CHECK(c.data_dir == "from-file");
  CHECK(c.listen.imap->to_string() == "[::1]:4143");  // flag beats file
  CHECK(c.listen.pop3->port == 3110);                 // file beats default
  CHECK(c.listen.pop3s->port == 1995);                // default
  CHECK_FALSE(c.listen.lmtp);
  CHECK(c.log_level == "error");
  CHECK(c.users_path() == std::filesystem::path("from-file") / "users");

  config_overrides more;
  more.data_dir = "flag-dir";
  more.users_file = "u";
  more.tls_cert = "c";
  more.tls_key = "k";
  const auto d = load_config(file, more);
  CHECK(d.data_dir == "flag-dir");
  CHECK(d.users_path() == "u");
  CHECK(*d.tls_cert == "c");
}

TEST_CASE("a bad flag value is an error naming the flag") {
  config_overrides flags;
  flags.pop3s = "127.0.0.1";
  CHECK_THROWS_WITH(load_config(std::nullopt, flags), Catch::StartsWith("--pop3s:"));
}

TEST_CASE("a missing config file is an error") {
  CHECK_THROWS_AS(load_config(std::filesystem::path("/nonexistent/packmail.toml"), {}),
                  config_error);
}

TEST_CASE("validation catches inconsistent settings") {
  server_config c;
  c.log_level = "loud";
  CHECK_THROWS_WITH(validate(c), Catch::Contains("log_level"));
  c = {};
  c.tls_cert = "cert.pem";
  CHECK_THROWS_WITH(validate(c), Catch::Contains("together"));
  c = {};
  c.listen.pop3 = c.listen.imap;
  CHECK_THROWS_WITH(validate(c), Catch::Contains("imap and pop3 both listen on 127.0.0.1:1143"));
  c = {};
  c.listen.imap = listen_address{"127.0.0.1", 0};
  c.listen.pop3 = listen_address{"127.0.0.1", 0};
  CHECK_NOTHROW(validate(c));  // port 0: the kernel picks distinct ports
}
