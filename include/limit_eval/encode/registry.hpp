#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "limit_eval/encode/encoder.hpp"

namespace limit_eval::encode {

struct EncoderOptions {
  std::size_t threads = 0;  // 0: all hardware threads
};

// Names --model accepts.
std::vector<std::string> builtin_model_names();

// Creates the encoder that --model names. Throws UsageError listing the known names otherwise.
std::unique_ptr<SparseEncoder> make_encoder(const std::string& model, const EncoderOptions& options);

}  // namespace limit_eval::encode
