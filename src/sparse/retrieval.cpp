#include "limit_eval/sparse/retrieval.hpp"

#include <algorithm>
#include <cassert>
#include <numeric>

#include "limit_eval/core/parallel.hpp"

namespace limit_eval::sparse {

namespace {

// Position of each document's id in ascending byte order (std::string compares like strcmp).
std::vector<std::uint32_t> rank_ids(const std::vector<std::string>& doc_ids) {
  std::vector<std::uint32_t> order(doc_ids.size());
  std::iota(order.begin(), order.end(), 0U);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return doc_ids[a] < doc_ids[b]; });
  std::vector<std::uint32_t> rank(doc_ids.size());
  for (std::uint32_t position = 0; position < order.size(); ++position) rank[order[position]] = position;
  return rank;
}

}  // namespace

InvertedIndex::InvertedIndex(const CsrMatrix& documents, const std::vector<std::string>& doc_ids)
    : num_docs_(documents.rows), postings_(transpose(documents)), id_rank_(rank_ids(doc_ids)) {
  assert(doc_ids.size() == documents.rows);
  docs_by_id_descending_.resize(num_docs_);
  for (std::uint32_t doc = 0; doc < num_docs_; ++doc) docs_by_id_descending_[num_docs_ - 1 - id_rank_[doc]] = doc;
}

std::vector<std::vector<Hit>> InvertedIndex::search(const CsrMatrix& queries, std::size_t k, std::size_t threads,
                                                    const std::vector<std::optional<std::uint32_t>>* exclude) const {
  assert(exclude == nullptr || exclude->size() == queries.rows);
  std::vector<std::vector<Hit>> results(queries.rows);
  parallel_for(queries.rows, threads, [&](std::size_t begin, std::size_t end) {
    std::vector<float> scores(num_docs_, 0.0F);
    std::vector<char> touched_flag(num_docs_, 0);
    std::vector<std::uint32_t> touched;
    std::vector<Hit> candidates;
    const auto before = [this](const Hit& a, const Hit& b) { return ranks_before(a, b); };
    for (std::size_t q = begin; q < end; ++q) {
      const auto query_row = static_cast<std::uint32_t>(q);
      const auto terms = queries.row_indices(query_row);
      const auto weights = queries.row_values(query_row);
      std::uint64_t postings_visited = 0;
      for (const std::uint32_t term : terms) {
        if (term < postings_.rows) postings_visited += postings_.indptr[term + 1] - postings_.indptr[term];
      }
      // A query whose postings cover a good share of the corpus (LIMIT's "likes" is in every
      // document) is faster scanned densely than tracked document by document.
      const bool dense = postings_visited * 8 >= num_docs_;
      for (std::size_t i = 0; i < terms.size(); ++i) {
        if (terms[i] >= postings_.rows) continue;  // a term no document has
        const float weight = weights[i];
        const std::uint64_t first = postings_.indptr[terms[i]];
        const std::uint64_t last = postings_.indptr[terms[i] + 1];
        if (dense) {
          for (std::uint64_t p = first; p < last; ++p) scores[postings_.indices[p]] += weight * postings_.values[p];
        } else {
          for (std::uint64_t p = first; p < last; ++p) {
            const std::uint32_t doc = postings_.indices[p];
            if (!touched_flag[doc]) {
              touched_flag[doc] = 1;
              touched.push_back(doc);
            }
            scores[doc] += weight * postings_.values[p];
          }
        }
      }
      // num_docs_ stands for "no exclusion" (a plain integer keeps GCC's -Wmaybe-uninitialized quiet).
      const std::uint32_t excluded = (exclude && (*exclude)[q]) ? *(*exclude)[q] : num_docs_;
      // Bounded heap whose front is the worst kept hit: most documents are rejected by one
      // comparison. A scored document whose sum is exactly 0 ranks like an unscored one (score 0,
      // then id), so both modes treat it as unscored.
      candidates.clear();
      const auto offer = [&](std::uint32_t doc) {
        const Hit hit{doc, scores[doc]};
        if (hit.score == 0.0F || doc == excluded) return;
        if (candidates.size() < k) {
          candidates.push_back(hit);
          std::push_heap(candidates.begin(), candidates.end(), before);
        } else if (before(hit, candidates.front())) {
          std::pop_heap(candidates.begin(), candidates.end(), before);
          candidates.back() = hit;
          std::push_heap(candidates.begin(), candidates.end(), before);
        }
      };
      if (dense) {
        for (std::uint32_t doc = 0; doc < num_docs_; ++doc) offer(doc);
      } else {
        for (const std::uint32_t doc : touched) offer(doc);
      }
      std::sort_heap(candidates.begin(), candidates.end(), before);

      // Documents sharing no term score 0; they enter in trec_eval order wherever 0 ranks.
      auto& hits = results[q];
      hits.reserve(std::min<std::size_t>(k, num_docs_));
      std::size_t next_candidate = 0;
      std::size_t next_untouched = 0;
      const auto advance_untouched = [&] {
        while (next_untouched < num_docs_) {
          const std::uint32_t doc = docs_by_id_descending_[next_untouched];
          if (scores[doc] == 0.0F && doc != excluded) return;
          ++next_untouched;
        }
      };
      advance_untouched();
      while (hits.size() < k) {
        const bool have_candidate = next_candidate < candidates.size();
        const bool have_untouched = next_untouched < num_docs_;
        if (!have_candidate && !have_untouched) break;
        const Hit untouched_hit{have_untouched ? docs_by_id_descending_[next_untouched] : 0U, 0.0F};
        if (have_candidate && (!have_untouched || before(candidates[next_candidate], untouched_hit))) {
          hits.push_back(candidates[next_candidate++]);
        } else {
          hits.push_back(untouched_hit);
          ++next_untouched;
          advance_untouched();
        }
      }

      if (dense) {
        std::fill(scores.begin(), scores.end(), 0.0F);
      } else {
        for (const std::uint32_t doc : touched) {
          touched_flag[doc] = 0;
          scores[doc] = 0.0F;
        }
        touched.clear();
      }
    }
  });
  return results;
}

std::vector<std::vector<Hit>> brute_force_search(const CsrMatrix& documents, const std::vector<std::string>& doc_ids,
                                                 const CsrMatrix& queries, std::size_t k) {
  std::vector<std::vector<Hit>> results(queries.rows);
  for (std::uint32_t q = 0; q < queries.rows; ++q) {
    std::vector<Hit> all(documents.rows);
    const auto q_terms = queries.row_indices(q);
    const auto q_weights = queries.row_values(q);
    for (std::uint32_t d = 0; d < documents.rows; ++d) {
      const auto d_terms = documents.row_indices(d);
      const auto d_weights = documents.row_values(d);
      float score = 0.0F;
      std::size_t i = 0;
      std::size_t j = 0;
      while (i < q_terms.size() && j < d_terms.size()) {
        if (q_terms[i] < d_terms[j]) {
          ++i;
        } else if (d_terms[j] < q_terms[i]) {
          ++j;
        } else {
          score += q_weights[i++] * d_weights[j++];
        }
      }
      all[d] = {d, score};
    }
    std::sort(all.begin(), all.end(), [&](const Hit& a, const Hit& b) {
      if (a.score != b.score) return a.score > b.score;
      return doc_ids[a.doc] > doc_ids[b.doc];
    });
    all.resize(std::min<std::size_t>(k, all.size()));
    results[q] = std::move(all);
  }
  return results;
}

}  // namespace limit_eval::sparse
