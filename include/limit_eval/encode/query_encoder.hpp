#pragma once

#include <span>

#include <nlohmann/json.hpp>

#include "limit_eval/data/dataset.hpp"
#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::encode {

// The query side of a model-folder encoder (manifest query_encoder.kind): the static weight lookup
// of inference-free models (StaticQueryEncoder) or the MLM of a siamese SPLADE model
// (neural::MlmQueryEncoder). Rows are over the same columns as the document vectors.
class QueryEncoder {
 public:
  virtual ~QueryEncoder() = default;

  // One row per query, in order. Invalid UTF-8 throws text::InvalidUtf8Error (text index = query index).
  [[nodiscard]] virtual sparse::CsrMatrix encode(std::span<const data::Query> queries) const = 0;
  // For the results JSON's model.description.query_encoder: at least "kind".
  [[nodiscard]] virtual nlohmann::json describe() const = 0;
};

}  // namespace limit_eval::encode
