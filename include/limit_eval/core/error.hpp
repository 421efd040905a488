#pragma once

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace limit_eval {

// Base of every error that reaches the user. Internal invariants use assert(); preconditions on
// data that comes from outside the function (a caller's arguments, a file, a model's output) are
// checked in every build and throw one of the classes below.
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
  // Invalid data that did not come from a file (a run or vectors built in memory); `what` names it.
  explicit DataError(const std::string& what);
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

// A library function was called with arguments that break its documented preconditions (sizes
// that disagree, unsorted or out-of-range entries, ...). Callers that pass on outside data turn it
// into the class of that data's origin where they know it (a model's output: ModelError); one that
// reaches main is a bug in limit-eval.
class ContractError : public Error {
 public:
  using Error::Error;
};

// Process exit statuses, chosen by main() only.
enum class ExitCode : int {
  ok = 0,
  failure = 1,  // an internal error: a broken contract (a bug) or an exhausted resource
  usage = 2,
  data = 3,
  io = 4,
  model = 5,
};

}  // namespace limit_eval
