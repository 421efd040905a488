#pragma once

#include <cstddef>
#include <memory>

#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/encode/query_encoder.hpp"
#include "limit_eval/neural/document_model.hpp"
#include "limit_eval/text/tokenizer.hpp"

namespace limit_eval::neural {

// The query side of a siamese SPLADE model (query_encoder.kind "mlm"): as sentence-transformers'
// encode_query runs MLMTransformer + SpladePooling, the query text is stripped (spec.strip), tokenized
// with special tokens (spec.add_special_tokens), truncated at spec.max_seq_length, and pooled by an
// MLM (the document side's own DocumentModel when the model is siamese). PooledVectorError's index
// is the query's.
class MlmQueryEncoder final : public encode::QueryEncoder {
 public:
  MlmQueryEncoder(const text::Tokenizer& tokenizer, std::shared_ptr<const DocumentModel> model,
                  encode::QueryEncoderSpec spec, bool shared_with_documents, std::size_t threads);

  [[nodiscard]] sparse::CsrMatrix encode(std::span<const data::Query> queries) const override;
  [[nodiscard]] nlohmann::json describe() const override;

 private:
  const text::Tokenizer& tokenizer_;
  std::shared_ptr<const DocumentModel> model_;
  encode::QueryEncoderSpec spec_;
  bool shared_with_documents_;
  std::size_t threads_;
};

}  // namespace limit_eval::neural
