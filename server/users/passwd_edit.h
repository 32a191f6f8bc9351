// Editing a passwd-file in place for packmailctl: every change keeps the other
// lines (comments, extra columns) byte for byte, and replaces the file
// atomically (temporary file in the same directory, fsync, rename, fsync of the
// directory) with mode 0600, under an exclusive flock on "<file>.lock" so
// concurrent packmailctl runs serialise. packmaild only reads the file and
// picks the new version up by itself (user_db).
#pragma once

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace packmail::server {

// The edit cannot be done because of the user table's content (the user
// exists / does not exist). packmailctl exits with 3 for these.
class user_conflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Text-level edits; each throws std::runtime_error naming the line when the
// file does not parse, user_conflict as documented, and returns the new text.
//
// Appends "user:password_field" (a '\n' is added to a last line without one).
// user_conflict if a user of that name (case-insensitively) exists.
std::string passwd_add_user(std::string_view text, std::string_view user,
                            std::string_view password_field);
// Removes the user's line. user_conflict if there is no such user.
std::string passwd_remove_user(std::string_view text, std::string_view user);
// Replaces the password column of the user's line, keeping the other columns.
// user_conflict if there is no such user.
std::string passwd_set_password(std::string_view text, std::string_view user,
                                std::string_view password_field);

// Runs edit(old_text) under the lock and atomically writes what it returns. A
// missing file reads as "" (and is created, with its directory). Exceptions
// from edit propagate and leave the file untouched; I/O failures throw
// std::runtime_error naming the path.
void edit_passwd_file(const std::filesystem::path& file,
                      const std::function<std::string(std::string_view)>& edit);

// Reads the whole file; "" when it does not exist. Throws on other errors.
std::string read_text_file(const std::filesystem::path& file);

// Writes the file atomically with the given mode (temporary file, fsync,
// rename, directory fsync). Throws std::runtime_error naming the path.
void write_file_atomically(const std::filesystem::path& file, std::string_view content,
                           unsigned mode);

}  // namespace packmail::server
