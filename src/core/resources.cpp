#include "limit_eval/core/resources.hpp"

#include <system_error>

#include "limit_eval/core/version.hpp"

namespace limit_eval {

std::filesystem::path executable_dir() {
  std::error_code ec;
  const auto executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{} : executable.parent_path();
}

namespace {

// <prefix> when the executable lies in <prefix>/<bindir> and <prefix> holds the installed
// resources; empty otherwise (a build folder, or a test executable).
std::filesystem::path install_prefix() {
  const std::filesystem::path bin_dir(kInstallBinDir);
  std::filesystem::path prefix = executable_dir();
  if (prefix.empty() || bin_dir.is_absolute()) return {};
  for (auto it = bin_dir.begin(); it != bin_dir.end(); ++it) prefix = prefix.parent_path();
  std::error_code ec;
  return std::filesystem::is_regular_file(prefix / kInstallResourceDir / "models" / "registry.json", ec)
             ? prefix
             : std::filesystem::path{};
}

}  // namespace

std::filesystem::path resource_dir() {
  static const std::filesystem::path dir = [] {
    const auto prefix = install_prefix();
    return prefix.empty() ? std::filesystem::path(kSourceDir) : prefix / kInstallResourceDir;
  }();
  return dir;
}

std::filesystem::path plugin_dir() {
  static const std::filesystem::path dir = [] {
    const auto prefix = install_prefix();
    return prefix.empty() ? executable_dir() : prefix / kInstallPluginDir;
  }();
  return dir;
}

}  // namespace limit_eval
