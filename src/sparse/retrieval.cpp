#include "limit_eval/sparse/retrieval.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cmath>
#include <future>
#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/parallel.hpp"

namespace limit_eval::sparse {

namespace {

// A term held by at least 1/kCommonShare of the documents is "common"; a query whose postings
// cover less than that share is scored sparsely. A query with common terms is pruned when its
// rare terms' postings cover less than 1/kPrunedShare of the documents (beyond that, scoring
// every document is about as fast).
constexpr std::uint64_t kCommonShare = 8;
constexpr std::uint64_t kPrunedShare = 2;

// Every path adds a query term's product to a score through this one expression, so that all of
// them (and brute_force_search) compute the same floats, whatever the compiler contracts.
inline float add_product(float sum, float weight, float value) { return sum + weight * value; }

// What pruning needs of every weight and value: no NaN can arise (not even 0 * inf), and no
// product lowers a sum.
inline bool is_finite_non_negative(float x) { return std::isfinite(x) && x >= 0.0F; }

// Position of each document's id in ascending byte order (std::string_view compares like strcmp).
std::vector<std::uint32_t> rank_ids(std::span<const std::string_view> doc_ids) {
  // The first 16 bytes as two big-endian integers (zero-padded) order ids as their full comparison
  // does wherever they differ, so only ids sharing those bytes are compared as strings.
  struct Key {
    std::array<std::uint64_t, 2> prefix;
    std::uint32_t row;
  };
  std::vector<Key> keys(doc_ids.size());
  for (std::uint32_t row = 0; row < keys.size(); ++row) {
    const std::string_view id = doc_ids[row];
    Key& key = keys[row];
    key.row = row;
    for (std::size_t i = 0; i < 16; ++i) {
      const unsigned byte = i < id.size() ? static_cast<unsigned char>(id[i]) : 0U;
      key.prefix[i / 8] = key.prefix[i / 8] << 8 | byte;
    }
  }
  std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
    return a.prefix != b.prefix ? a.prefix < b.prefix : doc_ids[a.row] < doc_ids[b.row];
  });
  std::vector<std::uint32_t> rank(doc_ids.size());
  for (std::uint32_t position = 0; position < keys.size(); ++position) rank[keys[position].row] = position;
  return rank;
}

std::vector<std::string_view> views_of(const std::vector<std::string>& ids) { return {ids.begin(), ids.end()}; }

// A flag per document term (column): held by some query.
std::vector<std::uint8_t> terms_of(const CsrMatrix& queries, std::uint32_t terms) {
  std::vector<std::uint8_t> held(terms, 0);
  for (const std::uint32_t term : queries.indices) {
    if (term < terms) held[term] = 1;
  }
  return held;
}

}  // namespace

InvertedIndex::InvertedIndex(const CsrMatrix& documents, const std::vector<std::string>& doc_ids, std::size_t threads)
    : InvertedIndex(documents, views_of(doc_ids), threads) {}

InvertedIndex::InvertedIndex(const CsrMatrix& documents, std::span<const std::string_view> doc_ids,
                             std::size_t threads)
    : InvertedIndex(documents, doc_ids, threads, {}) {}

InvertedIndex::InvertedIndex(const CsrMatrix& documents, std::span<const std::string_view> doc_ids,
                             const CsrMatrix& queries, std::size_t threads)
    : InvertedIndex(documents, doc_ids, threads, terms_of(queries, documents.cols)) {}

InvertedIndex::InvertedIndex(const CsrMatrix& documents, std::span<const std::string_view> doc_ids,
                             std::size_t threads, std::vector<std::uint8_t> indexed_terms)
    : num_docs_(documents.rows), indexed_terms_(std::move(indexed_terms)) {
  if (doc_ids.size() != documents.rows) {
    throw ContractError(
        fmt::format("InvertedIndex: {} document ids for a matrix of {} documents", doc_ids.size(), documents.rows));
  }
  // The ids are ranked while the postings are built.
  auto id_rank = std::async(resolve_threads(threads) > 1 ? std::launch::async : std::launch::deferred,
                            [doc_ids] { return rank_ids(doc_ids); });
  postings_ = to_csc(documents, threads, indexed_terms_);
  id_rank_ = id_rank.get();
  docs_by_id_descending_.resize(num_docs_);
  for (std::uint32_t doc = 0; doc < num_docs_; ++doc) docs_by_id_descending_[num_docs_ - 1 - id_rank_[doc]] = doc;

  max_value_.assign(postings_.cols, 0.0F);
  std::atomic<bool> any_unbounded{false};
  parallel_for(postings_.cols, threads, [&](std::size_t begin, std::size_t end) {
    bool unbounded = false;
    for (std::size_t term = begin; term < end; ++term) {
      float max = 0.0F;
      for (const Posting& posting : postings_.column(static_cast<std::uint32_t>(term))) {
        unbounded |= !is_finite_non_negative(posting.value);
        max = std::max(max, posting.value);
      }
      max_value_[term] = max;
    }
    if (unbounded) any_unbounded.store(true, std::memory_order_relaxed);
  });
  values_finite_non_negative_ = !any_unbounded.load();
  by_value_once_ = std::make_unique<std::once_flag[]>(postings_.cols);
  by_value_.resize(postings_.cols);
}

std::span<const InvertedIndex::Posting> InvertedIndex::postings_by_value(std::uint32_t term) const {
  assert(values_finite_non_negative_);
  std::call_once(by_value_once_[term], [&] {
    // Radix sort, byte by byte, of (complemented value bits, doc): the bits of non-negative floats
    // order like their values, so complemented ones order them descending.
    const auto postings = postings_.column(term);
    std::vector<std::uint64_t> keys(postings.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      keys[i] = std::uint64_t{~std::bit_cast<std::uint32_t>(postings[i].value)} << 32 | postings[i].row;
    }
    std::vector<std::uint64_t> sorted_keys(keys.size());
    for (int shift = 32; shift < 64; shift += 8) {
      std::array<std::size_t, 256> offsets{};
      for (const std::uint64_t key : keys) ++offsets[key >> shift & 0xFFU];
      if (std::find(offsets.begin(), offsets.end(), keys.size()) != offsets.end()) continue;  // one bucket
      std::exclusive_scan(offsets.begin(), offsets.end(), offsets.begin(), std::size_t{0});
      for (const std::uint64_t key : keys) sorted_keys[offsets[key >> shift & 0xFFU]++] = key;
      keys.swap(sorted_keys);
    }
    auto& sorted = by_value_[term];
    sorted.reserve(keys.size());
    for (const std::uint64_t key : keys) {
      sorted.push_back({static_cast<std::uint32_t>(key), std::bit_cast<float>(~static_cast<std::uint32_t>(key >> 32))});
    }
  });
  return by_value_[term];
}

// The scratch space of one thread: dense scores and a bitmap of touched documents, both all zero
// between queries. Each query takes one of three paths:
// - sparse: its postings cover few documents; the others score 0 and fill in id order;
// - pruned: it holds common terms (LIMIT's "like" with BM25 is in every document), but its top k
//   can be found scoring the documents of its rare terms and the best documents of the common
//   terms (MaxScore, then Fagin's threshold algorithm);
// - dense: every document is scored.
class InvertedIndex::QuerySearch {
  struct CommonTerm {
    std::uint32_t term;
    float weight;
    std::span<const Posting> by_value;  // the term's postings_by_value, fetched on the first step
    std::size_t cursor = 0;             // in by_value

    [[nodiscard]] bool exhausted() const { return !by_value.empty() && cursor == by_value.size(); }
    [[nodiscard]] float next_value(const InvertedIndex& index) const {
      return by_value.empty() ? index.max_value_[term] : by_value[cursor].value;
    }
  };
  struct RankOrder {
    const InvertedIndex* index;
    bool operator()(const Hit& a, const Hit& b) const { return index->ranks_before(a, b); }
  };

 public:
  QuerySearch(const InvertedIndex& index, std::size_t k)
      : index_(index),
        postings_(index.postings_),
        k_(k),
        scores_(index.num_docs_, 0.0F),
        touched_bits_((static_cast<std::size_t>(index.num_docs_) + 63) / 64, 0) {}

  std::vector<Hit> run(std::span<const std::uint32_t> terms, std::span<const float> weights, std::uint32_t excluded) {
    std::uint64_t postings_visited = 0;
    std::uint64_t rare_postings = 0;
    bool has_common_term = false;
    bool weights_finite_non_negative = true;
    for (std::size_t i = 0; i < terms.size(); ++i) {
      if (terms[i] >= postings_.cols) continue;  // a term no document has
      const std::uint64_t df = document_frequency(terms[i]);
      postings_visited += df;
      if (is_common(df)) {
        has_common_term = true;
      } else {
        rare_postings += df;
      }
      weights_finite_non_negative &= is_finite_non_negative(weights[i]);
    }
    if (!is_common(postings_visited)) return sparse(terms, weights, excluded);
    const bool can_prune = has_common_term && index_.values_finite_non_negative_ && weights_finite_non_negative &&
                           rare_postings * kPrunedShare < index_.num_docs_;
    if (can_prune) {
      if (auto hits = pruned(terms, weights, excluded)) return std::move(*hits);
    }
    return dense(terms, weights, excluded);
  }

 private:
  [[nodiscard]] std::uint64_t document_frequency(std::uint32_t term) const {
    return postings_.indptr[term + 1] - postings_.indptr[term];
  }
  [[nodiscard]] bool is_common(std::uint64_t documents) const { return documents * kCommonShare >= index_.num_docs_; }

  // Marks doc as touched; true the first time.
  bool touch(std::uint32_t doc) {
    std::uint64_t& word = touched_bits_[doc / 64];
    const std::uint64_t bit = std::uint64_t{1} << (doc % 64);
    if ((word & bit) != 0) return false;
    word |= bit;
    touched_.push_back(doc);
    return true;
  }
  [[nodiscard]] bool touched(std::uint32_t doc) const { return (touched_bits_[doc / 64] >> (doc % 64) & 1U) != 0; }
  void clear_touched() {
    for (const std::uint32_t doc : touched_) {
      touched_bits_[doc / 64] = 0;
      scores_[doc] = 0.0F;
    }
    touched_.clear();
  }

  // The value of doc in the postings of term, or nullptr. With df of the N documents holding the
  // term, doc sits between positions doc - (N - df) and doc: at once for a term in every document.
  [[nodiscard]] const float* value_of(std::uint32_t term, std::uint32_t doc) const {
    const auto postings = postings_.column(term);
    const std::uint64_t missing = index_.num_docs_ - postings.size();
    const auto low = postings.begin() + static_cast<std::ptrdiff_t>(doc > missing ? doc - missing : 0);
    const auto high = postings.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(postings.size(), doc + 1));
    const auto found =
        std::lower_bound(low, high, doc, [](const Posting& posting, std::uint32_t d) { return posting.row < d; });
    return found != high && found->row == doc ? &found->value : nullptr;
  }

  std::vector<Hit> sparse(std::span<const std::uint32_t> terms, std::span<const float> weights,
                          std::uint32_t excluded) {
    for (std::size_t i = 0; i < terms.size(); ++i) {
      if (terms[i] >= postings_.cols) continue;
      for (const Posting& posting : postings_.column(terms[i])) {
        touch(posting.row);
        scores_[posting.row] = add_product(scores_[posting.row], weights[i], posting.value);
      }
    }
    keep_best_touched(excluded);
    auto hits = take_top(excluded);
    clear_touched();
    return hits;
  }

  // MaxScore with the common terms as the non-essential ones: only the documents holding a rare
  // term are scored, exactly. Exactness of what is skipped: with finite non-negative weights and
  // values, float multiplication and addition (rounding to nearest) are monotone (non-decreasing)
  // in each operand, and adding a non-negative number never lowers a sum. So an untouched
  // document scores at most `bound`, the same sum in the same (ascending term) order over all
  // common terms with each term's largest value. When k candidates score strictly above it, no
  // untouched document can enter the top k, nor a 0-score filler. Otherwise the untouched
  // documents are offered by descending values of the common terms (offer_untouched_by_value).
  // nullopt when that does not settle the top k: the caller scores every document.
  std::optional<std::vector<Hit>> pruned(std::span<const std::uint32_t> terms, std::span<const float> weights,
                                         std::uint32_t excluded) {
    common_.clear();
    for (std::size_t i = 0; i < terms.size(); ++i) {
      if (terms[i] >= postings_.cols) continue;
      if (is_common(document_frequency(terms[i]))) {
        common_.push_back({terms[i], weights[i], {}});
        continue;
      }
      for (const Posting& posting : postings_.column(terms[i])) touch(posting.row);
    }
    // Products are added term by term in ascending order, as the dense path adds them.
    float bound = 0.0F;
    for (std::size_t i = 0; i < terms.size(); ++i) {
      if (terms[i] >= postings_.cols) continue;
      if (is_common(document_frequency(terms[i]))) {
        bound = add_product(bound, weights[i], index_.max_value_[terms[i]]);
        add_to_touched(terms[i], weights[i]);
        continue;
      }
      for (const Posting& posting : postings_.column(terms[i])) {
        scores_[posting.row] = add_product(scores_[posting.row], weights[i], posting.value);
      }
    }
    keep_best_touched(excluded);
    const bool complete = (candidates_.size() == k_ && candidates_.front().score > bound) ||
                          offer_untouched_by_value(excluded);
    std::optional<std::vector<Hit>> hits;
    if (complete) hits = take_top(excluded);
    clear_touched();
    return hits;
  }

  // Adds a common term's products to the touched documents: each looks its value up when that is
  // cheaper than reading all the term's postings.
  void add_to_touched(std::uint32_t term, float weight) {
    const std::uint64_t df = document_frequency(term);
    const std::uint64_t lookup_steps = 1 + static_cast<std::uint64_t>(std::bit_width(index_.num_docs_ - df));
    if (touched_.size() * lookup_steps < df) {
      for (const std::uint32_t doc : touched_) {
        if (const float* value = value_of(term, doc)) scores_[doc] = add_product(scores_[doc], weight, *value);
      }
    } else {
      for (const Posting& posting : postings_.column(term)) {
        if (touched(posting.row)) scores_[posting.row] = add_product(scores_[posting.row], weight, posting.value);
      }
    }
  }

  // Fagin's threshold algorithm over the common terms' postings sorted by value: each step takes
  // the next document of the term whose next product is largest and offers its exact score (the
  // common terms are all it holds). A term's sorted postings are fetched (built on first use)
  // only when a step takes from it; until then its next value is its largest. A document not yet
  // seen holds each common term with at most the value under that term's cursor, so it scores at
  // most `threshold`, the sum of those products (monotone, as in pruned()); once k candidates
  // score strictly above it, the top k is settled. True then, or when every common term's
  // documents were offered and k candidates rank above the 0-score fillers; false after
  // num_docs / kPrunedShare steps (scoring every document is faster).
  bool offer_untouched_by_value(std::uint32_t excluded) {
    const std::uint64_t step_budget = index_.num_docs_ / kPrunedShare;
    for (std::uint64_t step = 0;; ++step) {
      float threshold = 0.0F;
      CommonTerm* next = nullptr;
      float next_product = 0.0F;
      for (CommonTerm& common : common_) {
        if (common.exhausted()) continue;
        const float value = common.next_value(index_);
        threshold = add_product(threshold, common.weight, value);
        const float product = add_product(0.0F, common.weight, value);
        if (next == nullptr || product > next_product) {
          next = &common;
          next_product = product;
        }
      }
      if (candidates_.size() == k_ && threshold < candidates_.front().score) return true;
      if (next == nullptr) return candidates_.size() == k_;
      if (step == step_budget) return false;
      if (next->by_value.empty()) next->by_value = index_.postings_by_value(next->term);
      const Posting posting = next->by_value[next->cursor++];
      if (!touch(posting.row)) continue;  // scored already
      float score = 0.0F;
      for (const CommonTerm& common : common_) {
        const float* value = &common == next ? &posting.value : value_of(common.term, posting.row);
        if (value != nullptr) score = add_product(score, common.weight, *value);
      }
      offer({posting.row, score}, excluded);
    }
  }

  std::vector<Hit> dense(std::span<const std::uint32_t> terms, std::span<const float> weights, std::uint32_t excluded) {
    for (std::size_t i = 0; i < terms.size(); ++i) {
      if (terms[i] >= postings_.cols) continue;
      for (const Posting& posting : postings_.column(terms[i])) {
        scores_[posting.row] = add_product(scores_[posting.row], weights[i], posting.value);
      }
    }
    candidates_.clear();
    for (std::uint32_t doc = 0; doc < index_.num_docs_; ++doc) offer({doc, scores_[doc]}, excluded);
    auto hits = take_top(excluded);
    std::fill(scores_.begin(), scores_.end(), 0.0F);
    return hits;
  }

  // The best k touched documents as the candidates' heap. Selected at once, by score and then,
  // among the documents tied at the k-th score only, by id: scores tie often (BM25 gives documents
  // of the same length the same score), and comparing ids is the expensive part.
  void keep_best_touched(std::uint32_t excluded) {
    candidates_.clear();
    bool any_nan = false;
    for (const std::uint32_t doc : touched_) {
      if (scores_[doc] != 0.0F && doc != excluded) candidates_.push_back({doc, scores_[doc]});
      any_nan |= std::isnan(scores_[doc]);
    }
    if (any_nan) {  // NaN has no order that nth_element could rely on; the heap copes
      candidates_.clear();
      for (const std::uint32_t doc : touched_) offer({doc, scores_[doc]}, excluded);
      return;
    }
    if (candidates_.size() > k_) {
      const auto kth = candidates_.begin() + static_cast<std::ptrdiff_t>(k_ - 1);
      std::nth_element(candidates_.begin(), kth, candidates_.end(),
                       [](const Hit& a, const Hit& b) { return a.score > b.score; });
      const float kth_score = kth->score;
      const auto tied = std::partition(candidates_.begin(), candidates_.end(),
                                       [kth_score](const Hit& hit) { return hit.score > kth_score; });
      const auto tied_end =
          std::partition(tied, candidates_.end(), [kth_score](const Hit& hit) { return hit.score == kth_score; });
      std::nth_element(tied, kth, tied_end, before_);
      candidates_.resize(k_);
    }
    std::make_heap(candidates_.begin(), candidates_.end(), before_);
  }

  // Bounded heap whose front is the worst kept hit: most documents are rejected by one
  // comparison. A scored document whose sum is exactly 0 ranks like an unscored one (score 0,
  // then id), so every path treats it as unscored.
  void offer(const Hit& hit, std::uint32_t excluded) {
    if (hit.score == 0.0F || hit.doc == excluded) return;
    if (candidates_.size() < k_) {
      candidates_.push_back(hit);
      std::push_heap(candidates_.begin(), candidates_.end(), before_);
    } else if (before_(hit, candidates_.front())) {
      std::pop_heap(candidates_.begin(), candidates_.end(), before_);
      candidates_.back() = hit;
      std::push_heap(candidates_.begin(), candidates_.end(), before_);
    }
  }

  // The candidates in rank order. Unless k candidates rank above 0, the documents scoring 0 (any
  // whose scores_ entry is 0: here scores_ holds every other document's score) enter in
  // trec_eval order wherever 0 ranks.
  std::vector<Hit> take_top(std::uint32_t excluded) {
    const bool zeros_may_enter = candidates_.size() < k_ || !(candidates_.front().score > 0.0F);
    if (std::none_of(candidates_.begin(), candidates_.end(), [](const Hit& hit) { return std::isnan(hit.score); })) {
      std::sort(candidates_.begin(), candidates_.end(), before_);  // faster than sort_heap
    } else {
      std::sort_heap(candidates_.begin(), candidates_.end(), before_);  // NaN: no order std::sort may rely on
    }
    if (!zeros_may_enter) return candidates_;

    const std::uint32_t num_docs = index_.num_docs_;
    const auto& docs_by_id_descending = index_.docs_by_id_descending_;
    std::vector<Hit> hits;
    hits.reserve(std::min<std::size_t>(k_, num_docs));
    std::size_t next_candidate = 0;
    std::size_t next_untouched = 0;
    const auto advance_untouched = [&] {
      while (next_untouched < num_docs) {
        const std::uint32_t doc = docs_by_id_descending[next_untouched];
        if (scores_[doc] == 0.0F && doc != excluded) return;
        ++next_untouched;
      }
    };
    advance_untouched();
    while (hits.size() < k_) {
      const bool have_candidate = next_candidate < candidates_.size();
      const bool have_untouched = next_untouched < num_docs;
      if (!have_candidate && !have_untouched) break;
      const Hit untouched_hit{have_untouched ? docs_by_id_descending[next_untouched] : 0U, 0.0F};
      if (have_candidate && (!have_untouched || before_(candidates_[next_candidate], untouched_hit))) {
        hits.push_back(candidates_[next_candidate++]);
      } else {
        hits.push_back(untouched_hit);
        ++next_untouched;
        advance_untouched();
      }
    }
    return hits;
  }

  const InvertedIndex& index_;
  const CscMatrix& postings_;
  std::size_t k_;
  std::vector<float> scores_;
  std::vector<std::uint64_t> touched_bits_;
  std::vector<std::uint32_t> touched_;
  std::vector<Hit> candidates_;
  std::vector<CommonTerm> common_;  // of the query being pruned, in ascending term order
  RankOrder before_{&index_};
};

std::vector<std::vector<Hit>> InvertedIndex::search(const CsrMatrix& queries, std::size_t k, std::size_t threads,
                                                    const std::vector<std::optional<std::uint32_t>>* exclude) const {
  if (exclude != nullptr && exclude->size() != queries.rows) {
    throw ContractError(
        fmt::format("InvertedIndex::search: {} exclusions for {} queries", exclude->size(), queries.rows));
  }
  if (exclude != nullptr) {
    for (const auto& row : *exclude) {
      if (row && *row >= num_docs_) {
        throw ContractError(fmt::format("InvertedIndex::search: excluded row {} of {} documents", *row, num_docs_));
      }
    }
  }
  if (!indexed_terms_.empty()) {
    for (const std::uint32_t term : queries.indices) {
      if (term < postings_.cols && indexed_terms_[term] == 0) {
        throw ContractError(
            fmt::format("InvertedIndex::search: a query holds term {}, which the index was built without", term));
      }
    }
  }
  std::vector<std::vector<Hit>> results(queries.rows);
  if (k == 0) return results;
  parallel_for(queries.rows, threads, [&](std::size_t begin, std::size_t end) {
    QuerySearch search(*this, k);
    for (std::size_t q = begin; q < end; ++q) {
      const auto row = static_cast<std::uint32_t>(q);
      // num_docs_ stands for "no exclusion" (a plain integer keeps GCC's -Wmaybe-uninitialized quiet).
      const std::uint32_t excluded = (exclude && (*exclude)[q]) ? *(*exclude)[q] : num_docs_;
      results[q] = search.run(queries.row_indices(row), queries.row_values(row), excluded);
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
          score = add_product(score, q_weights[i++], d_weights[j++]);
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
