#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "limit_eval/encode/encoder.hpp"

namespace limit_eval::cli {

struct ModelOptions {
  std::string model = "bm25";
  std::filesystem::path models_root;  // empty: encode::default_models_root()
  std::string device = "auto";
  std::string dtype = "fp32";
  std::size_t batch_size = 32;
  std::size_t max_batch_tokens = 0;  // 0: batches bounded by batch_size only
};
void add_model_options(CLI::App& app, ModelOptions& options);

// The encoder --model names, on the device/dtype/batch size the options ask for.
std::unique_ptr<encode::SparseEncoder> make_encoder(const ModelOptions& options, std::size_t threads);

}  // namespace limit_eval::cli
