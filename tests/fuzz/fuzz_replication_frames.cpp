// libFuzzer target for the replication protocol's frame parser and message
// decoders (replication/wire.h, replication/messages.h). The first input byte
// picks the mode and how the input is cut:
// - raw (bit 7 clear): the rest is fed as received bytes; nearly every input
//   fails a checksum, which must be an error, never a crash or a frame;
// - framed (bit 7 set): the rest is a list of (type u8, length u16, payload)
//   records that are framed with valid checksums, so the decoders see
//   arbitrary payloads.
// Checks:
// - the frames and the error do not depend on the cuts;
// - a framed input comes back as exactly the frames that were sent;
// - a payload that decodes re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages.h"
#include "wire.h"

using namespace packmail::replication;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

struct outcome {
  std::vector<wire::frame> frames;
  bool failed = false;
};

outcome parse(std::string_view input, std::size_t cut) {
  wire::frame_parser parser;
  outcome out;
  try {
    for (std::size_t at = 0; at < input.size(); at += cut) {
      parser.feed(input.substr(at, cut));
      while (auto f = parser.next()) out.frames.push_back(std::move(*f));
    }
  } catch (const wire::error&) {
    out.failed = true;
  }
  return out;
}

// Decodes the payload as its type says; a success must round-trip.
void decode(const wire::frame& f) {
  const std::string_view p = f.payload;
  try {
    switch (f.kind) {
      case wire::type::hello:
        require(msg::encode(msg::decode_hello(p)) == p);
        break;
      case wire::type::login:
        require(msg::encode(msg::decode_login(p)) == p);
        break;
      case wire::type::welcome:
        require(msg::encode(msg::decode_welcome(p)) == p);
        break;
      case wire::type::checkpoint: {
        const auto list = msg::decode_checkpoint_list(p);
        for (const auto& [name, size] : list.files) {
          require(!name.empty() && name.find('/') == std::string::npos && name[0] != '.');
        }
        require(msg::encode(list) == p);
        break;
      }
      case wire::type::want: {
        const auto files = msg::decode_want(p, 64);
        for (auto i : files) require(i < 64);
        require(msg::encode_want(files) == p);
        break;
      }
      case wire::type::file_data:
        require(msg::encode(msg::decode_file_data(p)) == p);
        break;
      case wire::type::file_end:
        require(msg::encode(msg::decode_file_end(p)) == p);
        break;
      case wire::type::batch:
        require(msg::encode(msg::decode_batch(p)) == p);
        break;
      case wire::type::heartbeat:
        require(msg::encode(msg::decode_heartbeat(p)) == p);
        break;
      case wire::type::ack:
        require(msg::encode_ack(msg::decode_ack(p)) == p);
        break;
      case wire::type::verify:
        require(msg::encode(msg::decode_verify(p)) == p);
        break;
      case wire::type::digests:
        require(msg::encode(msg::decode_digests(p)) == p);
        break;
      case wire::type::error:
      case wire::type::resync:
      case wire::type::checkpoint_end:
        require(msg::encode_text(msg::decode_text(p)) == p);
        break;
    }
  } catch (const wire::error&) {
    // A refused payload is the expected answer to most inputs.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::size_t cut = 1 + (control & 0x3F);
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string input;
  std::vector<wire::frame> sent;
  if (control & 0x80) {
    while (rest.size() >= 3) {
      const auto kind = static_cast<wire::type>(1 + static_cast<std::uint8_t>(rest[0]) % 15);
      const std::size_t length =
          (static_cast<std::uint8_t>(rest[1]) << 8 | static_cast<std::uint8_t>(rest[2]));
      rest.remove_prefix(3);
      const std::string payload(rest.substr(0, length));
      rest.remove_prefix(payload.size());
      input += wire::encode_header(kind, payload) + payload;
      sent.push_back({kind, payload});
    }
  } else {
    input = std::string(rest);
  }

  const outcome whole = parse(input, input.size() + 1);
  const outcome pieces = parse(input, cut);
  require(whole.failed == pieces.failed);
  require(whole.frames.size() == pieces.frames.size());
  for (std::size_t i = 0; i < whole.frames.size(); ++i) {
    require(whole.frames[i].kind == pieces.frames[i].kind);
    require(whole.frames[i].payload == pieces.frames[i].payload);
  }
  if (control & 0x80) {
    require(!whole.failed && whole.frames.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      require(whole.frames[i].kind == sent[i].kind && whole.frames[i].payload == sent[i].payload);
    }
  }
  for (const auto& f : whole.frames) decode(f);
  return 0;
}
