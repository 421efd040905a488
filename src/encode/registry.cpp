#include "limit_eval/encode/registry.hpp"

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/version.hpp"

namespace limit_eval::encode {

std::filesystem::path default_models_root() {
  if (const char* env = std::getenv("LIMIT_EVAL_MODELS_ROOT"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(kSourceDir) / "models";
}

nlohmann::json read_model_registry(const std::filesystem::path& models_root) {
  const auto path = models_root / "registry.json";
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  try {
    auto registry = nlohmann::json::parse(in);
    if (registry.contains("models")) registry = registry["models"];
    if (!registry.is_object()) throw ModelError(fmt::format("{}: expected an object of models", path.string()));
    return registry;
  } catch (const nlohmann::json::parse_error& e) {
    throw ModelError(fmt::format("{}: corrupt registry: {}", path.string(), e.what()));
  }
}

ModelReference resolve_model(const std::string& name_or_path, const std::filesystem::path& models_root) {
  if (name_or_path == "bm25") return {ModelReference::Kind::bm25, "bm25", {}};
  const std::filesystem::path as_path(name_or_path);
  if (std::filesystem::is_directory(as_path)) {
    // load_model_manifest reports a folder without a usable manifest.
    return {ModelReference::Kind::exported, as_path.filename().string(), as_path};
  }
  const auto registry = read_model_registry(models_root);
  if (registry.contains(name_or_path)) {
    const auto folder = models_root / name_or_path;
    if (!std::filesystem::exists(folder / "manifest.json")) {
      const auto& entry = registry[name_or_path];
      const std::string hf_id = entry.value("hf_id", std::string{"<hugging face id>"});
      throw UsageError(fmt::format(
          "model '{}' is not exported yet ({} has no manifest.json). On a machine that reaches the Hugging Face hub, "
          "run:\n  scripts/export_model.py {} --output {}\n(or scripts/export_model.py --all for the four OpenSearch "
          "models)",
          name_or_path, folder.string(), hf_id, folder.string()));
    }
    return {ModelReference::Kind::exported, name_or_path, folder};
  }
  std::vector<std::string> known{"bm25"};
  for (const auto& [name, entry] : registry.items()) known.push_back(name);
  throw UsageError(fmt::format("unknown model '{}': give bm25, a registered short name ({}) or the path of an "
                               "exported model folder",
                               name_or_path, fmt::join(known, ", ")));
}

}  // namespace limit_eval::encode
