#include "limit_eval/encode/registry.hpp"

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/encode/bm25_encoder.hpp"

namespace limit_eval::encode {

std::vector<std::string> builtin_model_names() { return {"bm25"}; }

std::unique_ptr<SparseEncoder> make_encoder(const std::string& model, const EncoderOptions& options) {
  if (model == "bm25") return std::make_unique<Bm25Encoder>(Bm25Parameters{}, options.threads);
  throw UsageError(fmt::format("unknown model '{}': known models are {}", model, fmt::join(builtin_model_names(), ", ")));
}

}  // namespace limit_eval::encode
