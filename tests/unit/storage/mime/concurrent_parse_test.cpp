// parse() is documented thread-safe: the first calls race on GMime's
// initialisation, later ones share its charset tables.
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "packmail/storage/mime.h"

namespace mime = packmail::storage::mime;

TEST_CASE("concurrent parses give the same result as a single one") {
  const std::string raw =
      "Subject: =?ISO-8859-1?Q?caf=E9?=\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Type: text/plain; charset=koi8-r\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "8NLJ18XU\r\n"
      "--b--\r\n";
  constexpr int k_threads = 8;
  std::vector<mime::message_structure> results(k_threads);
  std::vector<std::thread> threads;
  for (int i = 0; i < k_threads; ++i) {
    threads.emplace_back([&results, &raw, i] {
      for (int round = 0; round < 50; ++round) results[i] = mime::parse(raw);
    });
  }
  for (std::thread& t : threads) t.join();
  const std::string expected = mime::parse(raw).encode();
  CHECK(mime::parse(raw).text == "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
  for (const mime::message_structure& s : results) CHECK(s.encode() == expected);
}
