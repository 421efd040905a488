#include "limit_eval/core/atomic_file.hpp"

#include <unistd.h>

#include <system_error>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval {

AtomicFileWriter::AtomicFileWriter(std::filesystem::path destination) : destination_(std::move(destination)) {
  const auto parent = destination_.parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw IoError(parent, "cannot create folder: " + ec.message());
  }
  temporary_ = destination_;
  temporary_ += fmt::format(".tmp.{}", ::getpid());
  out_.open(temporary_, std::ios::binary | std::ios::trunc);
  if (!out_) throw IoError(destination_, "cannot open for writing");
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
  std::error_code ec;
  std::filesystem::rename(temporary_, destination_, ec);
  if (ec) throw IoError(destination_, "cannot move into place: " + ec.message());
  committed_ = true;
}

void write_file_atomically(const std::filesystem::path& destination, std::string_view contents) {
  AtomicFileWriter writer(destination);
  writer.stream().write(contents.data(), static_cast<std::streamsize>(contents.size()));
  writer.commit();
}

}  // namespace limit_eval
