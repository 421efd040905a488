#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::sparse {

struct Hit {
  std::uint32_t doc = 0;  // row of the document matrix
  float score = 0.0F;
};

// Exact retrieval over an inverted index of the document vectors: term at a time, pruned
// (MaxScore, then Fagin's threshold algorithm) for queries holding a term most documents hold.
class InvertedIndex {
 public:
  // doc_ids give the trec_eval tie order: among equal scores, the larger id (strcmp) ranks first.
  // The index keeps neither the documents nor the ids. Built by up to `threads` threads (0 = all).
  InvertedIndex(const CsrMatrix& documents, std::span<const std::string_view> doc_ids, std::size_t threads = 0);
  InvertedIndex(const CsrMatrix& documents, const std::vector<std::string>& doc_ids, std::size_t threads = 0);
  // Indexes only the terms that `queries` hold, all that searching them needs: a one-off search
  // of a batch of queries skips the postings no query reads. search() refuses
  // (ContractError) a query holding a term left out. Every constructor throws ContractError when
  // doc_ids and the documents' rows differ in number.
  InvertedIndex(const CsrMatrix& documents, std::span<const std::string_view> doc_ids, const CsrMatrix& queries,
                std::size_t threads = 0);

  [[nodiscard]] std::uint32_t num_docs() const { return num_docs_; }
  [[nodiscard]] std::uint32_t num_terms() const { return postings_.cols; }

  // Top k documents per query row by float32 dot product: score descending, then doc id
  // descending. Like the reference's dense top-k, documents sharing no term with the query
  // (score 0) fill the list when fewer than k score otherwise, so exactly
  // min(k, num_docs - excluded) hits come back. exclude[q], when given, is a document row never
  // returned for query q (BEIR's ignore_identical_ids); ContractError when exclude has another
  // size than the queries or names a row past the documents. The scores are bit-identical to
  // brute_force_search's: every path sums the products in ascending term order.
  [[nodiscard]] std::vector<std::vector<Hit>> search(
      const CsrMatrix& queries, std::size_t k, std::size_t threads = 0,
      const std::vector<std::optional<std::uint32_t>>* exclude = nullptr) const;

  // Same ranking order as search(): true when a ranks before b.
  [[nodiscard]] bool ranks_before(const Hit& a, const Hit& b) const {
    if (a.score != b.score) return a.score > b.score;
    return id_rank_[a.doc] > id_rank_[b.doc];
  }

 private:
  class QuerySearch;  // one thread's scratch space and the per-query strategies
  using Posting = CscMatrix::Entry;  // row: the document

  // indexed_terms: empty (all), or a flag per term.
  InvertedIndex(const CsrMatrix& documents, std::span<const std::string_view> doc_ids, std::size_t threads,
                std::vector<std::uint8_t> indexed_terms);

  // The postings of a term by value descending, built on first use (any thread): for a weight
  // w >= 0, the order of the scores w * value.
  [[nodiscard]] std::span<const Posting> postings_by_value(std::uint32_t term) const;

  std::uint32_t num_docs_ = 0;
  std::vector<std::uint8_t> indexed_terms_;   // empty: all terms
  CscMatrix postings_;                        // term (column) -> (doc, weight), docs increasing
  std::vector<float> max_value_;              // term -> its largest weight
  bool values_finite_non_negative_ = false;   // every indexed weight is: what pruning needs
  std::vector<std::uint32_t> id_rank_;        // doc row -> position of its id in strcmp order
  std::vector<std::uint32_t> docs_by_id_descending_;
  mutable std::unique_ptr<std::once_flag[]> by_value_once_;  // term -> postings_by_value built
  mutable std::vector<std::vector<Posting>> by_value_;
};

// Reference implementation for tests: dense scores of every document, full sort.
std::vector<std::vector<Hit>> brute_force_search(const CsrMatrix& documents, const std::vector<std::string>& doc_ids,
                                                 const CsrMatrix& queries, std::size_t k);

}  // namespace limit_eval::sparse
