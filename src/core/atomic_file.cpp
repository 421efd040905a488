#include "limit_eval/core/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval {

namespace {

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

// The file's data on disk before it is renamed into place.
void sync_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path, fmt::format("cannot open to flush to disk: {}", std::strerror(errno)));
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (result != 0) throw IoError(path, fmt::format("cannot flush to disk: {}", std::strerror(error)));
}

// The rename on disk. Best effort: some file systems cannot sync a folder, and the file is in
// place either way.
void sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void remove_abandoned_temporaries(const std::filesystem::path& folder, std::string_view prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder.empty() ? "." : folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const auto marker = name.rfind(".tmp.");
    if (marker == std::string::npos) continue;
    const std::string pid_text = name.substr(marker + 5);
    const bool is_pid = !pid_text.empty() && pid_text.size() < 10 &&
                        std::all_of(pid_text.begin(), pid_text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!is_pid) continue;
    const auto pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid != ::getpid() && ::kill(pid, 0) == -1 && errno == ESRCH) {
      std::error_code ignored;
      if (std::filesystem::remove(entry.path(), ignored)) {
        spdlog::debug("removed {}, left by an interrupted run", entry.path().string());
      }
    }
  }
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path destination) : destination_(std::move(destination)) {
  const auto parent = destination_.parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw IoError(parent, "cannot create folder: " + ec.message());
  }
  remove_abandoned_temporaries(parent, destination_.filename().string() + ".tmp.");
  temporary_ = destination_;
  temporary_ += fmt::format(".tmp.{}", ::getpid());
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
  sync_file(temporary_);
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

}  // namespace limit_eval
