#pragma once

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace limit_eval {

// Base of every error that reaches the user. Internal invariants use assert().
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The command line asks for something impossible (bad option value, unknown model name...).
class UsageError : public Error {
 public:
  using Error::Error;
};

// A file cannot be opened, read, written or renamed.
class IoError : public Error {
 public:
  IoError(std::filesystem::path path, const std::string& what);
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// Input data is invalid. Carries the file and, where known, the 1-based line or the record id.
class DataError : public Error {
 public:
  DataError(std::filesystem::path path, std::size_t line, const std::string& what);
  static DataError at_id(std::filesystem::path path, const std::string& id, const std::string& what);

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::size_t line() const noexcept { return line_; }  // 0 when not line-based
  [[nodiscard]] const std::string& id() const noexcept { return id_; }

 private:
  DataError(std::filesystem::path path, std::size_t line, std::string id, const std::string& message);
  std::filesystem::path path_;
  std::size_t line_ = 0;
  std::string id_;
};

// A model folder or model file is missing, corrupt or inconsistent.
class ModelError : public Error {
 public:
  using Error::Error;
};

// Process exit statuses, chosen by main() only.
enum class ExitCode : int {
  ok = 0,
  failure = 1,
  usage = 2,
  data = 3,
  io = 4,
  model = 5,
};

}  // namespace limit_eval
