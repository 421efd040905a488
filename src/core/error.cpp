#include "limit_eval/core/error.hpp"

#include <fmt/format.h>
#include <fmt/std.h>

namespace limit_eval {

IoError::IoError(std::filesystem::path path, const std::string& what)
    : Error(fmt::format("{}: {}", path.string(), what)), path_(std::move(path)) {}

DataError::DataError(std::filesystem::path path, std::size_t line, const std::string& what)
    : DataError(std::move(path), line, std::string{}, what) {}

DataError::DataError(const std::string& what) : DataError({}, 0, std::string{}, what) {}

DataError DataError::at_id(std::filesystem::path path, const std::string& id, const std::string& what) {
  return DataError(std::move(path), 0, id, what);
}

namespace {
std::string locate(const std::filesystem::path& path, std::size_t line, const std::string& id) {
  if (line > 0) return fmt::format("{}:{}", path.string(), line);
  if (!id.empty()) return fmt::format("{} (id '{}')", path.string(), id);
  return path.string();
}
}  // namespace

DataError::DataError(std::filesystem::path path, std::size_t line, std::string id, const std::string& message)
    : Error(path.empty() && id.empty() ? message : fmt::format("{}: {}", locate(path, line, id), message)),
      path_(std::move(path)),
      line_(line),
      id_(std::move(id)) {}

}  // namespace limit_eval
