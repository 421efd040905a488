#include "limit_eval/core/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval {

namespace {

constexpr std::string_view kTemporaryMarker = ".tmp.";

// The host's name as a file name part: letters, digits, '-' and '_' only (no '.', which separates
// the parts of a temporary's name).
const std::string& host_part() {
  static const std::string host = [] {
    std::string name(256, '\0');
    if (::gethostname(name.data(), name.size() - 1) != 0) return std::string("localhost");
    name.resize(name.find('\0'));
    for (char& c : name) {
      const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!keep) c = '_';
    }
    return name.empty() ? std::string("localhost") : name.substr(0, 64);
  }();
  return host;
}

bool all_digits(std::string_view text) {
  return !text.empty() && text.size() < 20 && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// The process id of a temporary named by temporary_for() on this host; 0 otherwise.
pid_t local_writer(std::string_view name) {
  const auto marker = name.rfind(kTemporaryMarker);
  if (marker == std::string_view::npos) return 0;
  const std::string_view parts = name.substr(marker + kTemporaryMarker.size());
  // "<file>.tmp.<pid>", as earlier versions named it (without host): taken as this host's.
  if (all_digits(parts)) return static_cast<pid_t>(std::stoll(std::string(parts)));
  const auto first_dot = parts.find('.');
  const auto second_dot = first_dot == std::string_view::npos ? first_dot : parts.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos) return 0;
  const std::string_view pid = parts.substr(0, first_dot);
  const std::string_view sequence = parts.substr(first_dot + 1, second_dot - first_dot - 1);
  if (!all_digits(pid) || !all_digits(sequence) || parts.substr(second_dot + 1) != host_part()) return 0;
  return static_cast<pid_t>(std::stoll(std::string(pid)));
}

// fsync of a file or folder by name; returns errno, or 0.
int sync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return errno;
  const int result = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

// LIMIT_EVAL_CRASH_AT (see the header): true at the Nth call of this process (a forked child
// counts from 0 again).
bool reached_crash_point() {
  const char* value = std::getenv("LIMIT_EVAL_CRASH_AT");
  if (value == nullptr) return false;
  static std::mutex mutex;
  static pid_t counting_for = 0;
  static long passed = 0;
  const std::lock_guard lock(mutex);
  if (counting_for != ::getpid()) {
    counting_for = ::getpid();
    passed = 0;
  }
  return ++passed == std::strtol(value, nullptr, 10);
}

[[noreturn]] void crash() {
  ::kill(::getpid(), SIGKILL);
  std::abort();  // not reached
}

void crash_point() {
  if (reached_crash_point()) crash();
}

}  // namespace

std::filesystem::path atomic_temporary_path(const std::filesystem::path& destination, long pid, std::uint64_t writer) {
  auto temporary = destination;
  temporary += fmt::format("{}{}.{}.{}", kTemporaryMarker, pid, writer, host_part());
  return temporary;
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path destination) : destination_(std::move(destination)) {
  const auto parent = destination_.parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw IoError(parent, "cannot create folder: " + ec.message());
  }
  remove_abandoned_temporaries(parent, destination_.filename().string() + ".tmp.");
  static std::atomic<std::uint64_t> writers{0};
  temporary_ = atomic_temporary_path(destination_, ::getpid(), writers.fetch_add(1));
  out_.open(temporary_, std::ios::binary | std::ios::trunc);
  if (!out_) throw IoError(destination_, "cannot open for writing");
  crash_point();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) {
    out_.close();
    std::error_code ignored;
    std::filesystem::remove(temporary_, ignored);
  }
}

void AtomicFileWriter::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok || out_.fail()) throw IoError(destination_, "write failed");
  if (reached_crash_point()) {
    // A kill while the data is being written leaves a partial temporary, as this one.
    std::error_code ignored;
    std::filesystem::resize_file(temporary_, std::filesystem::file_size(temporary_, ignored) / 2, ignored);
    crash();
  }
  if (const int error = sync_path(temporary_, 0); error != 0) {
    throw IoError(destination_, "write failed: cannot flush to disk: " + std::generic_category().message(error));
  }
  crash_point();
  std::error_code ec;
  std::filesystem::rename(temporary_, destination_, ec);
  if (ec) throw IoError(destination_, "cannot move into place: " + ec.message());
  committed_ = true;
  crash_point();
  sync_folder(destination_.parent_path());
}

void write_file_atomically(const std::filesystem::path& destination, std::string_view contents) {
  AtomicFileWriter writer(destination);
  writer.stream().write(contents.data(), static_cast<std::streamsize>(contents.size()));
  writer.commit();
}

void sync_file(const std::filesystem::path& file) {
  if (const int error = sync_path(file, 0); error != 0) {
    throw IoError(file, "cannot flush to disk: " + std::generic_category().message(error));
  }
}

void sync_folder(const std::filesystem::path& folder) {
  (void)sync_path(folder.empty() ? std::filesystem::path(".") : folder, O_DIRECTORY);
}

void remove_abandoned_temporaries(const std::filesystem::path& folder, std::string_view prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder.empty() ? "." : folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const pid_t pid = local_writer(name);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == -1 && errno == ESRCH) {
      std::error_code ignored;
      std::filesystem::remove_all(entry.path(), ignored);
      spdlog::debug("removed {}, left by an interrupted run", entry.path().string());
    }
  }
}

}  // namespace limit_eval
