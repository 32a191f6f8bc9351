// FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2). Sections are cut from the
// stored message with the part tree parsed at delivery; offsets in the tree
// are relative to the body, after the per-recipient prefix.
#include <algorithm>
#include <string>
#include <vector>

#include "../session_context.h"
#include "packmail/protocols/imap/fetch_attributes.h"

namespace packmail::protocols::imap {
namespace {

using storage::mime::part;

bool is_encapsulated_message(const part& p) {
  return p.type == "message" && (p.subtype == "rfc822" || p.subtype == "global") &&
         !p.children.empty();
}

// A byte range of the stored message, prefix included.
struct byte_range {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// The header fields of `header` named (or not named) in `fields`, with the
// blank line that ends a header (RFC 3501 6.4.5 HEADER.FIELDS).
std::string filter_header(std::string_view header, const std::vector<std::string>& fields,
                          bool keep_named) {
  std::string out;
  std::size_t i = 0;
  while (i < header.size()) {
    // One field: its first line and the continuation lines after it.
    std::size_t end = i;
    do {
      const std::size_t eol = header.find('\n', end);
      end = eol == std::string_view::npos ? header.size() : eol + 1;
    } while (end < header.size() && (header[end] == ' ' || header[end] == '\t'));
    const std::string_view field = header.substr(i, end - i);
    i = end;
    if (field == "\r\n" || field == "\n") break;  // the blank line
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = field.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    const bool named = std::any_of(fields.begin(), fields.end(),
                                   [&](const std::string& f) { return iequals_ascii(f, name); });
    if (named == keep_named) out += field;
  }
  out += "\r\n";
  return out;
}

std::string section_name(const fetch_item& item) {
  std::string out;
  for (std::uint32_t n : item.section.part) {
    if (!out.empty()) out += '.';
    out += std::to_string(n);
  }
  auto add = [&out](std::string_view text) {
    if (!out.empty()) out += '.';
    out += text;
  };
  switch (item.section.text) {
    case section_spec::text_kind::all:
      break;
    case section_spec::text_kind::header:
      add("HEADER");
      break;
    case section_spec::text_kind::text:
      add("TEXT");
      break;
    case section_spec::text_kind::mime:
      add("MIME");
      break;
    case section_spec::text_kind::header_fields:
    case section_spec::text_kind::header_fields_not: {
      add(item.section.text == section_spec::text_kind::header_fields ? "HEADER.FIELDS ("
                                                                      : "HEADER.FIELDS.NOT (");
      for (std::size_t i = 0; i < item.section.fields.size(); ++i) {
        if (i) out += ' ';
        out += item.section.fields[i];
      }
      out += ')';
      break;
    }
  }
  return "BODY[" + out + "]";
}

// `r` cut to `partial` (RFC 3501 6.4.5: data past the end is empty).
byte_range clamp(byte_range r, const std::optional<partial_range>& partial) {
  if (!partial) return r;
  if (partial->offset >= r.length) return {r.offset, 0};
  return {r.offset + partial->offset, std::min(partial->length, r.length - partial->offset)};
}

// `bytes` cut to `partial`, for sections that are not a byte range of the
// stored message (HEADER.FIELDS): they are built whole, then cut.
std::string cut(std::string bytes, const std::optional<partial_range>& partial) {
  if (!partial) return bytes;
  if (partial->offset >= bytes.size()) return std::string();
  return bytes.substr(partial->offset, partial->length);
}

class fetcher {
 public:
  fetcher(session_context& ctx, mailbox_view& view, const storage::message_info& info)
      : ctx_(ctx), view_(view), info_(info) {}

  // The bytes of `spec`'s section, cut to `partial` when given, or an error.
  // Sections that are a byte range of the stored message read only the part
  // `partial` keeps.
  storage::result<std::string> section(const section_spec& spec,
                                       const std::optional<partial_range>& partial = {}) {
    const std::uint64_t prefix = info_.prefix_size;
    auto range = [&](byte_range r) { return read(clamp(r, partial)); };
    auto fields = [&](byte_range header) -> storage::result<std::string> {
      auto bytes = read(header);
      if (!bytes) return bytes;
      return cut(
          filter_header(*bytes, spec.fields, spec.text == section_spec::text_kind::header_fields),
          partial);
    };
    if (spec.part.empty()) {
      switch (spec.text) {
        case section_spec::text_kind::all:
          return range({0, info_.size});
        case section_spec::text_kind::mime:  // not valid without a part; parser rejects
        case section_spec::text_kind::header:
          return structure_then([&](const part& root) -> storage::result<std::string> {
            return range({0, prefix + root.header_length + root.header_offset});
          });
        case section_spec::text_kind::text:
          return structure_then([&](const part& root) -> storage::result<std::string> {
            return range({prefix + root.body_offset, root.body_length});
          });
        case section_spec::text_kind::header_fields:
        case section_spec::text_kind::header_fields_not:
          return structure_then([&](const part& root) -> storage::result<std::string> {
            return fields({0, prefix + root.header_offset + root.header_length});
          });
      }
    }
    return structure_then([&](const part& root) -> storage::result<std::string> {
      const part* current = &root;
      bool top = true;
      for (std::uint32_t n : spec.part) {
        if (!top && is_encapsulated_message(*current)) current = &current->children.front();
        top = false;
        if (current->type == "multipart") {
          if (n == 0 || n > current->children.size()) return std::string();
          current = &current->children[n - 1];
        } else if (n != 1) {
          return std::string();  // no such part: empty (RFC 3501 leaves it open)
        }
      }
      switch (spec.text) {
        case section_spec::text_kind::all:
          return range({prefix + current->body_offset, current->body_length});
        case section_spec::text_kind::mime:
          return range({prefix + current->header_offset, current->header_length});
        default:
          break;
      }
      // HEADER / TEXT / HEADER.FIELDS of a part: of its encapsulated message.
      if (!is_encapsulated_message(*current)) return std::string();
      const part& message = current->children.front();
      switch (spec.text) {
        case section_spec::text_kind::text:
          return range({prefix + message.body_offset, message.body_length});
        case section_spec::text_kind::header:
          return range({prefix + message.header_offset, message.header_length});
        default:
          return fields({prefix + message.header_offset, message.header_length});
      }
    });
  }

  storage::result<storage::mime::message_structure*> structure() {
    if (!structure_) {
      auto s = ctx_.store().read_structure(view_.id(), info_.uid);
      if (!s) return s.error();
      structure_ = std::move(s).value();
    }
    return &*structure_;
  }

 private:
  template <class F>
  storage::result<std::string> structure_then(F f) {
    auto s = structure();
    if (!s) return s.error();
    return f((*s)->root);
  }

  storage::result<std::string> read(byte_range r) {
    if (r.length == 0) return std::string();
    return ctx_.store().read_message(view_.id(), info_.uid, r.offset, r.length);
  }

  session_context& ctx_;
  mailbox_view& view_;
  const storage::message_info& info_;
  std::optional<storage::mime::message_structure> structure_;
};

bool sets_seen(const fetch_item& item) {
  return (item.what == fetch_item::kind::body_section && !item.peek) ||
         item.what == fetch_item::kind::rfc822 || item.what == fetch_item::kind::rfc822_text;
}

}  // namespace

namespace {

// A message read for the current batch.
struct loaded_message {
  std::uint32_t seq = 0;
  storage::message_info info;  // with the \Seen this FETCH set
  bool seen_set = false;       // this FETCH set \Seen (or found it set meanwhile)
};

// A FETCH under way: its replies go out in chunks of about k_fetch_chunk
// bytes, so FETCH 1:* BODY[] of a big mailbox never sits whole in memory.
// Messages are read in batches of about a chunk's worth, and the \Seen of a
// batch is set in one store write.
struct fetch_progress {
  fetch_request r;
  std::vector<std::uint32_t> seqs;
  std::size_t next = 0;  // index into seqs of the first message not yet read
  std::vector<loaded_message> batch;
  std::size_t batch_next = 0;  // index into batch of the next reply
  bool uid_command = false;
  bool wants_uid = false;
  bool wants_flags = false;
  bool marks_seen = false;
  bool missing = false;
};

constexpr std::size_t k_fetch_chunk = 256 * 1024;

std::optional<reply> run_fetch(session_context& ctx, fetch_progress& p);

}  // namespace

std::optional<reply> handle_fetch(session_context& ctx, command& cmd) {
  auto request = parse_fetch(cmd.args, cmd.uid);
  if (!request) return bad(request.error().message);
  fetch_request& r = request.value();
  if (r.changed_since || r.vanished) return bad("CONDSTORE is not supported");
  for (const fetch_item& item : r.items) {
    if (item.what == fetch_item::kind::binary || item.what == fetch_item::kind::binary_size ||
        item.what == fetch_item::kind::modseq) {
      return bad("BINARY and MODSEQ are not supported");
    }
  }
  mailbox_view& view = *ctx.view();
  auto seqs = view.resolve(r.set, cmd.uid);
  if (!seqs) return bad(seqs.error().message);

  const bool wants_uid =
      cmd.uid || std::any_of(r.items.begin(), r.items.end(),
                             [](const fetch_item& i) { return i.what == fetch_item::kind::uid; });
  const bool wants_flags = std::any_of(r.items.begin(), r.items.end(), [](const fetch_item& i) {
    return i.what == fetch_item::kind::flags;
  });
  const bool marks_seen =
      !view.read_only() && std::any_of(r.items.begin(), r.items.end(), sets_seen);

  auto progress = std::make_shared<fetch_progress>();
  progress->r = std::move(r);
  progress->seqs = std::move(seqs).value();
  progress->uid_command = cmd.uid;
  progress->wants_uid = wants_uid;
  progress->wants_flags = wants_flags;
  progress->marks_seen = marks_seen;
  if (auto done = run_fetch(ctx, *progress)) return done;
  // More to send: the session resumes the command once this chunk is out.
  ctx.resume = [progress](session_context& c) { return run_fetch(c, *progress); };
  return std::nullopt;
}

namespace {

// About how many bytes the reply for `info` takes: what sizes a batch.
std::size_t estimated_reply_size(const fetch_request& r, const storage::message_info& info) {
  std::size_t size = 64;  // "* n FETCH (UID n FLAGS (...))"
  for (const fetch_item& item : r.items) {
    switch (item.what) {
      case fetch_item::kind::body_section:
        size += item.partial ? std::min<std::uint64_t>(item.partial->length, info.size) : info.size;
        break;
      case fetch_item::kind::rfc822:
      case fetch_item::kind::rfc822_header:
      case fetch_item::kind::rfc822_text:
        size += info.size;
        break;
      case fetch_item::kind::envelope:
      case fetch_item::kind::body_structure:
      case fetch_item::kind::body:
        size += 512;
        break;
      default:
        size += 32;
        break;
    }
  }
  return size;
}

// Reads the next batch of messages, about a chunk's worth, and sets \Seen on
// those that lack it in one store write. A storage failure is returned.
std::optional<reply> read_batch(session_context& ctx, fetch_progress& p) {
  mailbox_view& view = *ctx.view();
  p.batch.clear();
  p.batch_next = 0;
  std::vector<storage::imap_uid> unseen;
  std::size_t estimate = 0;
  while (p.next < p.seqs.size() && estimate < k_fetch_chunk) {
    const std::uint32_t seq = p.seqs[p.next++];
    auto loaded = ctx.store().get_message(view.id(), view.at(seq).uid);
    if (!loaded) {
      // Expunged by another session; announced later (RFC 3501 7.4.1).
      if (loaded.code() == storage::errc::expunged || loaded.code() == storage::errc::not_found) {
        p.missing = true;
        continue;
      }
      return storage_failure(loaded.error());
    }
    loaded_message m{seq, std::move(loaded).value(), false};
    if (p.marks_seen && !(m.info.flags & storage::flag_seen)) {
      unseen.push_back(m.info.uid);
      m.seen_set = true;
    }
    estimate += estimated_reply_size(p.r, m.info);
    p.batch.push_back(std::move(m));
  }
  if (unseen.empty()) return std::nullopt;
  storage::flag_change change;
  change.op = storage::flag_op::add;
  change.flags = storage::flag_seen;
  auto changed = ctx.store().store_flags(view.id(), unseen, change);
  if (!changed) return storage_failure(changed.error());
  // The batch is in ascending UID order, as sequence numbers are.
  for (storage::message_info& info : changed->changed) {
    auto it = std::lower_bound(
        p.batch.begin(), p.batch.end(), info.uid,
        [](const loaded_message& m, storage::imap_uid uid) { return m.info.uid < uid; });
    if (it == p.batch.end() || it->info.uid != info.uid) continue;
    it->info.flags = info.flags;
    it->info.keywords = std::move(info.keywords);
    it->info.modseq = info.modseq;
  }
  return std::nullopt;
}

// Writes the reply for one message of the batch; a storage failure is returned.
std::optional<reply> respond(session_context& ctx, const fetch_progress& p,
                             const loaded_message& message) {
  mailbox_view& view = *ctx.view();
  const fetch_request& r = p.r;
  const std::uint32_t seq = message.seq;
  const storage::message_info& info = message.info;
  const view_message& known = view.at(seq);
  const bool flags_were_known = known.flags == info.flags && known.keywords == info.keywords;
  view.remember(info);

  fetcher f(ctx, view, info);
  std::string line = "* " + std::to_string(seq) + " FETCH (";
  bool first = true;
  auto item_out = [&](std::string_view text) {
    if (!first) line += ' ';
    first = false;
    line += text;
  };
  if (p.wants_uid) item_out("UID " + std::to_string(info.uid));
  for (const fetch_item& item : r.items) {
    switch (item.what) {
      case fetch_item::kind::uid:
        break;  // first, above
      case fetch_item::kind::flags:
        item_out("FLAGS " + flag_list(info.flags, info.keywords, view.at(seq).recent));
        break;
      case fetch_item::kind::internal_date:
        item_out("INTERNALDATE \"" + internal_date(info.internal_date, info.tz_offset) + "\"");
        break;
      case fetch_item::kind::rfc822_size:
        item_out("RFC822.SIZE " + std::to_string(info.size));
        break;
      case fetch_item::kind::envelope:
      case fetch_item::kind::body_structure:
      case fetch_item::kind::body: {
        auto s = f.structure();
        if (!s) return storage_failure(s.error());
        if (item.what == fetch_item::kind::envelope) {
          item_out("ENVELOPE " + (*s)->envelope);
        } else if (item.what == fetch_item::kind::body_structure) {
          item_out("BODYSTRUCTURE " + (*s)->bodystructure);
        } else {
          item_out("BODY " + (*s)->body);
        }
        break;
      }
      case fetch_item::kind::rfc822:
      case fetch_item::kind::rfc822_header:
      case fetch_item::kind::rfc822_text: {
        section_spec spec;
        spec.text = item.what == fetch_item::kind::rfc822          ? section_spec::text_kind::all
                    : item.what == fetch_item::kind::rfc822_header ? section_spec::text_kind::header
                                                                   : section_spec::text_kind::text;
        auto bytes = f.section(spec);
        if (!bytes) return storage_failure(bytes.error());
        const char* name = item.what == fetch_item::kind::rfc822          ? "RFC822 "
                           : item.what == fetch_item::kind::rfc822_header ? "RFC822.HEADER "
                                                                          : "RFC822.TEXT ";
        item_out(name + literal_value(*bytes));
        break;
      }
      case fetch_item::kind::body_section: {
        auto bytes = f.section(item.section, item.partial);
        if (!bytes) return storage_failure(bytes.error());
        std::string name = section_name(item);
        // RFC 3501 6.4.5: <origin> is echoed.
        if (item.partial) name += "<" + std::to_string(item.partial->offset) + ">";
        item_out(name + " " + literal_value(*bytes));
        break;
      }
      case fetch_item::kind::binary:
      case fetch_item::kind::binary_size:
      case fetch_item::kind::modseq:
        break;  // refused above
    }
  }
  // The \Seen this FETCH set, or a change the client has not seen yet.
  if (!p.wants_flags && (message.seen_set || !flags_were_known)) {
    item_out("FLAGS " + flag_list(info.flags, info.keywords, view.at(seq).recent));
  }
  line += ")\r\n";
  ctx.out += line;
  return std::nullopt;
}

std::optional<reply> run_fetch(session_context& ctx, fetch_progress& p) {
  const std::size_t start_size = ctx.out.size();
  while (p.batch_next < p.batch.size() || p.next < p.seqs.size()) {
    if (ctx.out.size() - start_size >= k_fetch_chunk) return std::nullopt;
    if (p.batch_next == p.batch.size()) {
      if (auto failed = read_batch(ctx, p)) return failed;
      continue;
    }
    if (auto failed = respond(ctx, p, p.batch[p.batch_next++])) return failed;
  }
  if (p.missing) return no("[EXPUNGEISSUED] Some of the requested messages no longer exist");
  return ok(p.uid_command ? "UID FETCH completed" : "FETCH completed");
}

}  // namespace

}  // namespace packmail::protocols::imap
