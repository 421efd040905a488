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

// Where exported models are looked for: $LIMIT_EVAL_MODELS_ROOT, else the repository's models/.
std::filesystem::path default_models_root();

// The registry of short names that ships with limit-eval (the repository's models/registry.json):
// short name -> {hf_id, revision, ...}. It does not depend on the models root, which only says
// where exported folders are. Throws ModelError when the file is corrupt.
std::filesystem::path model_registry_path();
nlohmann::json read_model_registry();
// The same from another registry file.
nlohmann::json read_model_registry(const std::filesystem::path& path);

// The command that exports the registered model `name` into models_root/<name>: a command that
// runs as printed, from any folder, after the README's set-up.
std::string export_command(const std::string& name, const std::filesystem::path& models_root);

// Resolves --model: "bm25"; an existing folder path (holding manifest.json); or a short name of the
// registry whose export lives in models_root/<name>. Throws UsageError for a path that is not a
// folder ("model folder not found: PATH"), an unknown name (listing the known ones, with a "did
// you mean"), and a short name that has not been exported yet (giving the export command).
ModelReference resolve_model(const std::string& name_or_path, const std::filesystem::path& models_root);

}  // namespace limit_eval::encode
