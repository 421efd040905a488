#pragma once

// Shared by the fuzz targets: most parsers read files, so each input is written to a file in a
// folder of this process's own (removed at exit) before the parser sees it.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace limit_eval::fuzz {

inline const std::filesystem::path& work_folder() {
  static const std::filesystem::path folder = [] {
    auto path = std::filesystem::temp_directory_path() / ("limit-eval-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(work_folder(), ec);
    });
    return path;
  }();
  return folder;
}

inline std::filesystem::path write_file(const std::filesystem::path& relative, std::string_view bytes) {
  const auto path = work_folder() / relative;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) std::abort();
  return path;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace limit_eval::fuzz
