#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/query_encoder.hpp"
#include "limit_eval/sparse/csr.hpp"
#include "limit_eval/text/tokenizer.hpp"

namespace limit_eval::encode {

// The inference-free query side (sentence-transformers' SparseStaticEmbedding): the query is
// tokenized without special tokens and truncated at max_length, and its vector holds, for each
// distinct token, that token's static weight (a repeated token counts once). The weights come from
// a model folder: the constructor throws ModelError unless they are finite and cover every id the
// tokenizer produces.
class StaticQueryEncoder final : public QueryEncoder {
 public:
  StaticQueryEncoder(const text::Tokenizer& tokenizer, std::vector<float> weights, std::size_t max_length,
                     bool add_special_tokens, std::size_t threads);

  // Throws DataError-compatible information through InvalidUtf8Error (text index = query index).
  [[nodiscard]] sparse::CsrMatrix encode(std::span<const data::Query> queries) const override;
  [[nodiscard]] nlohmann::json describe() const override;
  [[nodiscard]] const std::vector<float>& weights() const { return weights_; }

 private:
  const text::Tokenizer& tokenizer_;
  std::vector<float> weights_;
  std::size_t max_length_;
  bool add_special_tokens_;
  std::size_t threads_;
};

}  // namespace limit_eval::encode
