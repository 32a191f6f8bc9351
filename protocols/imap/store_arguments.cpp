#include "packmail/protocols/imap/store_arguments.h"

namespace packmail::protocols::imap {

namespace {

bool is_atom_char(char c) { return is_astring_char(c) && c != ']'; }

bool flag_from_token(const token& t, std::vector<std::string>& out) {
  if (t.kind != token_kind::atom && t.kind != token_kind::nil) return false;
  if (!is_valid_flag(t.text)) return false;
  out.push_back(t.text);
  return true;
}

}  // namespace

bool is_valid_flag(std::string_view flag) {
  if (!flag.empty() && flag[0] == '\\') flag.remove_prefix(1);
  if (flag.empty()) return false;
  for (char c : flag) {
    if (!is_atom_char(c)) return false;
  }
  return true;
}

syntax_result<std::vector<std::string>> parse_flag_list(const token& list) {
  // flag-list = "(" [flag *(SP flag)] ")"
  if (!list.is_list()) return make_syntax_error("Expected a flag list");
  std::vector<std::string> flags;
  for (const token& t : list.children) {
    if (!flag_from_token(t, flags)) return make_syntax_error("Invalid flag");
  }
  return flags;
}

syntax_result<store_request> parse_store(std::span<const token> args) {
  store_request request;
  std::size_t i = 0;
  if (args.size() < 3) return make_syntax_error("STORE expects a sequence set, an item and flags");
  if (args[0].kind != token_kind::atom && args[0].kind != token_kind::number) {
    return make_syntax_error("Invalid sequence set");
  }
  auto set = sequence_set::parse(args[0].text);
  if (!set) return set.error();
  request.set = std::move(set.value());
  i = 1;
  if (args[i].is_list()) {
    // RFC 7162 3.1.3: store-modifier = "UNCHANGEDSINCE" SP mod-sequence-valzer
    const auto& mods = args[i].children;
    if (mods.size() != 2 || !mods[0].is_atom("UNCHANGEDSINCE") ||
        mods[1].kind != token_kind::number || mods[1].number > INT64_MAX) {
      return make_syntax_error("Invalid STORE modifier");
    }
    request.unchanged_since = mods[1].number;
    ++i;
  }
  if (i + 1 >= args.size() || args[i].kind != token_kind::atom) {
    return make_syntax_error("Missing STORE data item");
  }
  std::string item = to_upper_ascii(args[i].text);
  if (!item.empty() && (item[0] == '+' || item[0] == '-')) {
    request.op = item[0] == '+' ? store_request::operation::add : store_request::operation::remove;
    item.erase(0, 1);
  }
  if (item == "FLAGS.SILENT") {
    request.silent = true;
  } else if (item != "FLAGS") {
    return make_syntax_error("Invalid STORE data item");
  }
  ++i;
  if (args[i].is_list()) {
    if (i + 1 != args.size()) return make_syntax_error("Unexpected argument after flag list");
    auto flags = parse_flag_list(args[i]);
    if (!flags) return flags.error();
    request.flags = std::move(flags.value());
    return request;
  }
  for (; i < args.size(); ++i) {
    if (!flag_from_token(args[i], request.flags)) return make_syntax_error("Invalid flag");
  }
  return request;
}

}  // namespace packmail::protocols::imap
