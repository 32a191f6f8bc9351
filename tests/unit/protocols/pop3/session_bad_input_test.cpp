// Bad input gets a clear -ERR, never a crash: unknown commands, commands in
// the wrong state, bad message numbers, over-long and empty lines, and
// pipelined input served in steps.
#include "session_script.h"

using namespace packmail::protocols::pop3::testing;

TEST_CASE("unknown commands", "[pop3][session][bad]") {
  test_server server;
  client c(server);
  run(c, R"(
    C: HELO
    S: -ERR Unknown command
    C: LAST
    S: -ERR Unknown command
    C: RETRX 1
    S: -ERR Unknown command
  )");
  login(c);
  run(c, "C: XYZZY\nS: -ERR Unknown command\n");
}

TEST_CASE("commands in the wrong state", "[pop3][session][bad]") {
  test_server server;
  server.deliver("Subject: a\n\nx\n");
  client c(server);
  run(c, R"(
    C: STAT
    S: -ERR Not logged in; log in first
    C: LIST
    S: -ERR Not logged in; log in first
    C: UIDL 1
    S: -ERR Not logged in; log in first
    C: RETR 1
    S: -ERR Not logged in; log in first
    C: TOP 1 1
    S: -ERR Not logged in; log in first
    C: DELE 1
    S: -ERR Not logged in; log in first
    C: RSET
    S: -ERR Not logged in; log in first
    C: NOOP
    S: -ERR Not logged in; log in first
  )");
  login(c);
  run(c, R"(
    C: USER alice
    S: -ERR Already logged in
    C: PASS secret
    S: -ERR Already logged in
    C: AUTH PLAIN
    S: -ERR Already logged in
    C: STLS
    S: -ERR Already logged in
    C: APOP alice x
    S: -ERR Already logged in
    C: NOOP
    S: +OK
    C: NOOP x
    S: -ERR NOOP takes no arguments
  )");
}

TEST_CASE("command names are case-insensitive", "[pop3][session][bad]") {
  test_server server;
  server.deliver("Subject: a\n\nx\n");
  client c(server);
  run(c, R"(
    C: user alice
    S: +OK Send the password
    C: pAsS secret
    S: +OK Logged in; {*}
    C: stat
    S: +OK 1 17
    C: Dele 1
    S: +OK Message 1 deleted
    C: rset
    S: +OK 1 messages (17 octets)
  )");
}

TEST_CASE("message numbers are checked", "[pop3][session][bad]") {
  test_server server;
  server.deliver("Subject: a\n\nx\n");
  server.deliver("Subject: b\n\ny\n");
  client c(server);
  login(c);
  run(c, R"(
    C: RETR 0
    S: -ERR No such message, only 2 messages in maildrop
    C: RETR 3
    S: -ERR No such message, only 2 messages in maildrop
    C: RETR -1
    S: -ERR Invalid message number
    C: RETR +1
    S: -ERR Invalid message number
    C: RETR 1x
    S: -ERR Invalid message number
    C: RETR 4294967297
    S: -ERR No such message, only 2 messages in maildrop
    C: RETR 99999999999999999999999999999999
    S: -ERR No such message, only 2 messages in maildrop
    C: DELE 18446744073709551617
    S: -ERR No such message, only 2 messages in maildrop
    C: LIST 0002
    S: +OK 2 17
    C: DELE
    S: -ERR DELE needs one message number
    C: DELE 1 2
    S: -ERR DELE needs one message number
    C: STAT 1
    S: -ERR STAT takes no arguments
  )");
}

TEST_CASE("an over-long line gets -ERR and the session goes on", "[pop3][session][bad]") {
  test_server server;
  server.config.max_line = 32;
  client c(server);
  run(c, "C: USER " + std::string(100, 'a') + "\nS: -ERR Line too long\n");
  // Byte by byte, and with a bare LF: the same.
  run(c, "C: PASS " + std::string(100, 'b') + "\nS: -ERR Line too long\n", true);
  CHECK(c.send("NOOP " + std::string(40, 'c') + "\n") == "-ERR Line too long\r\n");
  login(c);
  // A huge line is never buffered whole: it is answered while it arrives.
  CHECK(c.send(std::string(1000, 'x')) == "-ERR Line too long\r\n");
  for (int i = 0; i < 100; ++i) REQUIRE(c.send(std::string(10000, 'x')).empty());
  run(c, "C: \nC: NOOP\nS: +OK\n");
}

TEST_CASE("empty lines", "[pop3][session][bad]") {
  test_server server;
  client c(server);
  run(c, R"(
    C:
    S: -ERR Empty command line
    C:    
    S: -ERR Empty command line
  )");
}

TEST_CASE("binary junk gets answers, not a crash", "[pop3][session][bad]") {
  test_server server;
  server.deliver("Subject: a\n\nx\n");
  client c(server);
  login(c);
  std::string junk;
  for (int i = 0; i < 256; ++i) junk += static_cast<char>(i);
  const std::string out = c.send(junk + "\r\n" + junk + "\r\n");
  CHECK(out.find("-ERR") == 0);
  run(c, "C: STAT\nS: +OK 1 17\n");
}

TEST_CASE("pipelined commands are all answered, in order and in steps",
          "[pop3][session][pipelining]") {
  test_server server;
  server.config.max_pipelined_commands = 4;
  for (int i = 0; i < 5; ++i) server.deliver("Subject: a\n\nx\n");
  client c(server);
  std::string input = "USER alice\r\nPASS secret\r\n";
  std::vector<std::string> expected = {"+OK Send the password", "+OK Logged in; {*}"};
  for (int i = 1; i <= 5; ++i) {
    input += "RETR " + std::to_string(i) + "\r\n";
    for (const char* line : {"+OK 17 octets", "Subject: a", "", "x", "."}) {
      expected.emplace_back(line);
    }
  }
  input += "QUIT\r\n";
  expected.emplace_back("+OK Logging out; 0 messages deleted");
  check_lines(c.send(input), expected);
  CHECK(c.more_calls() == 1);  // 8 commands, 4 per call
  CHECK(c.closed());
}

TEST_CASE("a call stops once its replies reach 1 MiB", "[pop3][session][pipelining]") {
  test_server server;
  const std::string body(700 * 1024, 'b');
  for (int i = 0; i < 4; ++i) server.deliver("Subject: big\n\n" + body + "\n");
  client c(server);
  login(c);
  const int before = c.more_calls();
  const std::string out = c.send("RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\n");
  CHECK(c.more_calls() - before == 1);  // two RETRs per call
  CHECK(split_lines(out).size() == 4 * 5);
}
