#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace limit_eval::encode {

// What --model names: the built-in BM25 or an exported model folder.
struct ModelReference {
  enum class Kind { bm25, exported };
  Kind kind = Kind::bm25;
  std::string name;
  std::filesystem::path folder;  // exported models only
};

// $LIMIT_EVAL_MODELS_ROOT, else the repository's models/.
std::filesystem::path default_models_root();

// models_root/registry.json: short name -> {hf_id, revision, ...}. Empty when the file is absent.
nlohmann::json read_model_registry(const std::filesystem::path& models_root);

// Resolves --model: "bm25"; an existing folder path (holding manifest.json); or a short name of the
// registry whose export lives in models_root/<name>. Throws UsageError for an unknown name and for
// a short name that has not been exported yet, giving the exact export command.
ModelReference resolve_model(const std::string& name_or_path, const std::filesystem::path& models_root);

}  // namespace limit_eval::encode
