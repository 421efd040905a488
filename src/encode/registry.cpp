#include "limit_eval/encode/registry.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/input_limits.hpp"
#include "limit_eval/core/shell.hpp"
#include "limit_eval/core/suggest.hpp"
#include "limit_eval/core/resources.hpp"
#include "limit_eval/core/version.hpp"

namespace limit_eval::encode {

namespace {

// A --model value that can only be meant as a folder, never as a short name.
bool looks_like_path(const std::string& value) {
  return value.find('/') != std::string::npos || value.starts_with('.') || value.starts_with('~');
}

}  // namespace

std::filesystem::path default_models_root() {
  if (const char* env = std::getenv("LIMIT_EVAL_MODELS_ROOT"); env != nullptr && *env != '\0') return env;
  return resource_dir() / "models";
}

std::filesystem::path model_registry_path() { return resource_dir() / "models" / "registry.json"; }

nlohmann::json read_model_registry() { return read_model_registry(model_registry_path()); }

nlohmann::json read_model_registry(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ModelError(fmt::format("{}: the model registry is missing (it ships with limit-eval)", path.string()));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (find_json_too_deep(text) != std::string::npos) {
    throw ModelError(fmt::format("{}: corrupt registry: JSON nested more than {} levels deep", path.string(),
                                 kMaxJsonDepth));
  }
  try {
    auto registry = nlohmann::json::parse(text);
    if (registry.contains("models")) registry = registry["models"];
    if (!registry.is_object()) throw ModelError(fmt::format("{}: expected an object of models", path.string()));
    return registry;
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number overflow
    throw ModelError(fmt::format("{}: corrupt registry: {}", path.string(), e.what()));
  }
}

std::string export_command(const std::string& name, const std::filesystem::path& models_root) {
  const auto script = std::filesystem::path(kSourceDir) / "scripts" / "export_model.sh";
  return fmt::format("{} --all --only {} --models-dir {}", shell_word(script.string()), shell_word(name),
                     shell_word(std::filesystem::absolute(models_root).lexically_normal().string()));
}

ModelReference resolve_model(const std::string& name_or_path, const std::filesystem::path& models_root) {
  if (name_or_path == "bm25") return {ModelReference::Kind::bm25, "bm25", {}};
  const std::filesystem::path as_path(name_or_path);
  std::error_code ec;
  if (std::filesystem::is_directory(as_path, ec)) {
    // load_model_manifest reports a folder without a usable manifest.
    return {ModelReference::Kind::exported, as_path.filename().string(), as_path};
  }
  if (looks_like_path(name_or_path)) {
    throw UsageError(std::filesystem::exists(as_path, ec)
                         ? fmt::format("model folder expected, but {} is not a folder", name_or_path)
                         : fmt::format("model folder not found: {}", name_or_path));
  }
  const auto registry = read_model_registry();
  if (registry.contains(name_or_path)) {
    const auto folder = models_root / name_or_path;
    if (!std::filesystem::exists(folder / "manifest.json", ec)) {
      throw UsageError(fmt::format(
          "model '{}' is not exported yet ({} has no manifest.json). On a machine that reaches the Hugging Face hub, "
          "run:\n  {}",
          name_or_path, folder.string(), export_command(name_or_path, models_root)));
    }
    return {ModelReference::Kind::exported, name_or_path, folder};
  }
  std::vector<std::string> registered;
  for (const auto& [name, entry] : registry.items()) registered.push_back(name);
  std::vector<std::string> candidates = registered;
  candidates.emplace_back("bm25");
  const auto suggestion = closest_match(name_or_path, candidates);
  throw UsageError(fmt::format("unknown model '{}'{}: give bm25, a registered short name ({}) or the path of an "
                               "exported model folder",
                               name_or_path, suggestion ? fmt::format(" (did you mean '{}'?)", *suggestion) : "",
                               fmt::join(registered, ", ")));
}

}  // namespace limit_eval::encode
