#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "limit_eval/encode/encoder.hpp"

namespace limit_eval::neural {
struct FinetuneOptions;
}

namespace limit_eval::cli {

struct ModelOptions {
  std::string model = "bm25";
  std::filesystem::path models_root;  // empty: encode::default_models_root()
  std::string device = "auto";
  std::string dtype = "fp32";
  std::size_t batch_size = 32;
  std::size_t max_batch_tokens = 0;  // 0: batches bounded by batch_size only
  // The neural options the command line gave (BM25 warns that it ignores them).
  std::vector<std::string> neural_options_given;
};
void add_model_options(CLI::App& app, ModelOptions& options);

// The manifest.json that identifies --model's exported folder in the vector cache; empty for the
// built-in BM25. Resolving it checks the model reference (a mistyped name fails at once).
std::filesystem::path model_manifest(const ModelOptions& options);

// The encoder --model names, on the device/dtype/batch size the options ask for (BM25 runs on the
// CPU in fp32, unbatched: it warns when any of these options was given).
std::unique_ptr<encode::SparseEncoder> make_encoder(const ModelOptions& options, std::size_t threads);

// Runs `limit-eval finetune` in the neural plugin (UsageError when built without libtorch).
void run_finetune(const neural::FinetuneOptions& options);

}  // namespace limit_eval::cli
