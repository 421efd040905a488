#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::sparse {

struct Hit {
  std::uint32_t doc = 0;  // row of the document matrix
  float score = 0.0F;
};

// Term-at-a-time exact retrieval over an inverted index of the document vectors.
class InvertedIndex {
 public:
  // doc_ids give the trec_eval tie order: among equal scores, the larger id (strcmp) ranks first.
  InvertedIndex(const CsrMatrix& documents, const std::vector<std::string>& doc_ids);

  [[nodiscard]] std::uint32_t num_docs() const { return num_docs_; }
  [[nodiscard]] std::uint32_t num_terms() const { return postings_.rows; }

  // Top k documents per query row by float32 dot product: score descending, then doc id
  // descending. Like the reference's dense top-k, documents sharing no term with the query
  // (score 0) fill the list when fewer than k score otherwise, so exactly
  // min(k, num_docs - excluded) hits come back. exclude[q], when given, is a document row never
  // returned for query q (BEIR's ignore_identical_ids).
  [[nodiscard]] std::vector<std::vector<Hit>> search(
      const CsrMatrix& queries, std::size_t k, std::size_t threads = 0,
      const std::vector<std::optional<std::uint32_t>>* exclude = nullptr) const;

  // Same ranking order as search(): true when a ranks before b.
  [[nodiscard]] bool ranks_before(const Hit& a, const Hit& b) const {
    if (a.score != b.score) return a.score > b.score;
    return id_rank_[a.doc] > id_rank_[b.doc];
  }

 private:
  std::uint32_t num_docs_ = 0;
  CsrMatrix postings_;                  // term -> (doc, weight)
  std::vector<std::uint32_t> id_rank_;  // doc row -> position of its id in strcmp order
  std::vector<std::uint32_t> docs_by_id_descending_;
};

// Reference implementation for tests: dense scores of every document, full sort.
std::vector<std::vector<Hit>> brute_force_search(const CsrMatrix& documents, const std::vector<std::string>& doc_ids,
                                                 const CsrMatrix& queries, std::size_t k);

}  // namespace limit_eval::sparse
