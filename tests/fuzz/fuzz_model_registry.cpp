// The model registry (models/registry.json): read_model_registry throws ModelError only, and
// what it returns lists model names as report and --model use them.
#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/suggest.hpp"
#include "limit_eval/encode/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = limit_eval::fuzz::write_file("registry.json", limit_eval::fuzz::as_text(data, size));
  nlohmann::json registry;
  try {
    registry = limit_eval::encode::read_model_registry(path);
  } catch (const limit_eval::ModelError&) {
    return 0;
  }
  std::vector<std::string> names;
  for (const auto& [name, entry] : registry.items()) names.push_back(name);
  (void)limit_eval::closest_match("v3gte", names);
  return 0;
}
