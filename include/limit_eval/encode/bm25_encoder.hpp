#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "limit_eval/encode/encoder.hpp"

namespace limit_eval::encode {

struct Bm25Parameters {
  double k1 = 1.5;
  double b = 0.75;
};

// BM25 as bm25s' default ("lucene") variant, expressed as sparse vectors:
// document weight of term t = idf(t) * tf / (tf + k1 * (1 - b + b * |d| / avgdl)),
// idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)); query vector = the query's term counts over the
// corpus vocabulary (terms unseen in the corpus are dropped), so the dot product is bm25s' score.
// Document text = title + "\n" + text.
class Bm25Encoder final : public SparseEncoder {
 public:
  explicit Bm25Encoder(Bm25Parameters parameters = {}, std::size_t threads = 0);

  [[nodiscard]] std::string name() const override { return "bm25"; }
  [[nodiscard]] nlohmann::json describe() const override;
  sparse::CsrMatrix encode_documents(std::span<const data::Document> corpus) override;
  sparse::CsrMatrix encode_queries(std::span<const data::Query> queries) override;
  [[nodiscard]] std::uint32_t dimensions() const override { return static_cast<std::uint32_t>(vocabulary_.size()); }
  [[nodiscard]] std::string term(std::uint32_t column) const override { return vocabulary_.at(column); }

 private:
  Bm25Parameters parameters_;
  std::size_t threads_;
  std::vector<std::string> vocabulary_;  // column -> stemmed term
  std::unordered_map<std::string, std::uint32_t> columns_;
  bool fitted_ = false;  // encode_documents has run (the vocabulary may legitimately be empty)
  std::size_t documents_ = 0;
  double average_document_length_ = 0.0;
};

}  // namespace limit_eval::encode
