#include "limit_eval/report/environment.hpp"

#include <unistd.h>

#include <array>
#include <ctime>
#include <fstream>

#include "limit_eval/core/version.hpp"

namespace limit_eval::report {

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 32> buffer{};
  std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer.data();
}

std::string cpu_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        const auto start = line.find_first_not_of(' ', colon + 1);
        return start == std::string::npos ? std::string{} : line.substr(start);
      }
    }
  }
  return "unknown";
}

nlohmann::json environment_json(const RunSettings& settings) {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  nlohmann::json env = {
      {"limit_eval_version", kVersion},
      {"git_commit", kGitCommit},
      {"device", settings.device},
      {"device_name", settings.device_name.empty() ? cpu_name() : settings.device_name},
      {"cpu", cpu_name()},
      {"threads", settings.threads},
      {"dtype", settings.dtype},
      {"batch_size", settings.batch_size == 0 ? nlohmann::json(nullptr) : nlohmann::json(settings.batch_size)},
      {"host", host.data()},
      {"date", utc_now_iso8601()},
  };
  return env;
}

}  // namespace limit_eval::report
