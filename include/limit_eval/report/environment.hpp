#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace limit_eval::report {

struct RunSettings {
  std::string device = "cpu";
  std::string device_name;  // empty: the CPU's name
  std::string dtype = "fp32";
  std::size_t threads = 1;
  std::size_t batch_size = 0;  // 0: not applicable (BM25)
};

// Where and how a result was measured: limit-eval version and commit, device, threads, CPU/GPU
// name, dtype, batch size, host, UTC date.
nlohmann::json environment_json(const RunSettings& settings);

// Current UTC time as ISO 8601 ("2026-11-22T03:04:05Z").
std::string utc_now_iso8601();

// "model name" of /proc/cpuinfo, or "unknown".
std::string cpu_name();

}  // namespace limit_eval::report
