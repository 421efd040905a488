#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/sparse/csr.hpp"
#include "limit_eval/sparse/retrieval.hpp"

namespace limit_eval::sparse {
namespace {

// Random sparse rows whose weights come from a small set, so that many scores tie exactly.
CsrMatrix random_matrix(std::mt19937& rng, std::uint32_t rows, std::uint32_t cols, std::uint32_t max_nnz,
                        bool few_values) {
  CsrBuilder builder(cols);
  std::uniform_int_distribution<std::uint32_t> nnz_dist(0, max_nnz);
  std::uniform_int_distribution<std::uint32_t> col_dist(0, cols - 1);
  std::uniform_int_distribution<int> small_value(1, 3);
  std::uniform_real_distribution<float> real_value(0.01F, 5.0F);
  std::vector<std::pair<std::uint32_t, float>> entries;
  for (std::uint32_t r = 0; r < rows; ++r) {
    entries.clear();
    const std::uint32_t nnz = nnz_dist(rng);
    for (std::uint32_t i = 0; i < nnz; ++i) {
      entries.emplace_back(col_dist(rng), few_values ? static_cast<float>(small_value(rng)) * 0.5F : real_value(rng));
    }
    builder.add_row(entries);
  }
  return std::move(builder).finish();
}

std::vector<std::string> random_ids(std::mt19937& rng, std::uint32_t n) {
  std::vector<std::string> ids;
  std::uniform_int_distribution<int> letter('A', 'z');
  while (ids.size() < n) {
    std::string id = "d" + std::to_string(ids.size()) + "_";
    for (int i = 0; i < 3; ++i) id += static_cast<char>(letter(rng));
    ids.push_back(id);
  }
  std::shuffle(ids.begin(), ids.end(), rng);
  return ids;
}

void expect_same_hits(const std::vector<Hit>& fast, const std::vector<Hit>& reference) {
  ASSERT_EQ(fast.size(), reference.size());
  for (std::size_t i = 0; i < fast.size(); ++i) {
    EXPECT_EQ(fast[i].doc, reference[i].doc) << "rank " << i;
    EXPECT_EQ(fast[i].score, reference[i].score) << "rank " << i;
  }
}

TEST(CsrBuilder, SortsMergesDuplicatesAndDropsZeros) {
  CsrBuilder builder(10);
  const std::vector<std::pair<std::uint32_t, float>> row{{7, 1.0F}, {2, 0.5F}, {7, 2.0F}, {4, 0.0F}, {3, 1.0F}, {3, -1.0F}};
  builder.add_row(row);
  builder.add_row({});
  const CsrMatrix m = std::move(builder).finish();
  ASSERT_EQ(m.rows, 2U);
  EXPECT_EQ(m.indptr, (std::vector<std::uint64_t>{0, 2, 2}));
  EXPECT_EQ(m.indices, (std::vector<std::uint32_t>{2, 7}));
  EXPECT_EQ(m.values, (std::vector<float>{0.5F, 3.0F}));
}

TEST(CscMatrix, SameEntriesAsTransposeForAnyThreadCount) {
  std::mt19937 rng(5);
  // Enough non-zeros to be split between threads.
  const CsrMatrix m = random_matrix(rng, 20000, 300, 20, false);
  const CsrMatrix t = transpose(m);
  for (const std::size_t threads : {1U, 2U, 3U}) {
    const CscMatrix csc = to_csc(m, threads);
    ASSERT_EQ(csc.indptr, t.indptr);
    ASSERT_EQ(csc.nnz(), t.nnz());
    for (std::size_t i = 0; i < csc.nnz(); ++i) {
      ASSERT_EQ(csc.entries[i].row, t.indices[i]);
      ASSERT_EQ(csc.entries[i].value, t.values[i]);
    }
  }
}

TEST(CscMatrix, ColumnsNotKeptComeOutEmpty) {
  std::mt19937 rng(6);
  const CsrMatrix m = random_matrix(rng, 20000, 300, 20, false);
  std::vector<std::uint8_t> keep(m.cols, 0);
  for (std::uint32_t c = 0; c < m.cols; c += 3) keep[c] = 1;
  const CscMatrix all = to_csc(m);
  for (const std::size_t threads : {1U, 2U}) {
    const CscMatrix kept = to_csc(m, threads, keep);
    for (std::uint32_t c = 0; c < m.cols; ++c) {
      const auto column = kept.column(c);
      if (keep[c] == 0) {
        EXPECT_TRUE(column.empty()) << c;
        continue;
      }
      const auto expected = all.column(c);
      ASSERT_EQ(column.size(), expected.size()) << c;
      for (std::size_t i = 0; i < column.size(); ++i) {
        EXPECT_EQ(column[i].row, expected[i].row);
        EXPECT_EQ(column[i].value, expected[i].value);
      }
    }
  }
}

TEST(CsrMatrix, TransposeTwiceIsIdentity) {
  std::mt19937 rng(7);
  const CsrMatrix m = random_matrix(rng, 50, 40, 12, false);
  const CsrMatrix t = transpose(m);
  EXPECT_EQ(t.rows, 40U);
  EXPECT_EQ(t.nnz(), m.nnz());
  const CsrMatrix back = transpose(t);
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.values, m.values);
}

struct SearchCase {
  std::uint32_t docs;
  std::uint32_t vocab;
  std::uint32_t max_nnz;
  std::size_t k;
  bool few_values;
};

class InvertedIndexVersusBruteForce : public ::testing::TestWithParam<SearchCase> {};

TEST_P(InvertedIndexVersusBruteForce, SameTopKInSameOrder) {
  const SearchCase c = GetParam();
  std::mt19937 rng(1234 + c.docs + c.k);
  const CsrMatrix docs = random_matrix(rng, c.docs, c.vocab, c.max_nnz, c.few_values);
  const CsrMatrix queries = random_matrix(rng, 60, c.vocab, 6, c.few_values);
  const auto ids = random_ids(rng, c.docs);
  const InvertedIndex index(docs, ids);
  const auto reference = brute_force_search(docs, ids, queries, c.k);
  for (const std::size_t threads : {1U, 2U, 3U}) {
    const auto fast = index.search(queries, c.k, threads);
    ASSERT_EQ(fast.size(), reference.size());
    for (std::size_t q = 0; q < fast.size(); ++q) {
      SCOPED_TRACE("query " + std::to_string(q) + ", threads " + std::to_string(threads));
      expect_same_hits(fast[q], reference[q]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RandomData, InvertedIndexVersusBruteForce,
                         ::testing::Values(SearchCase{46, 30, 8, 100, true},    // k above corpus size
                                           SearchCase{200, 50, 10, 10, true},   // heavy ties
                                           SearchCase{500, 300, 20, 100, false},
                                           SearchCase{300, 1000, 3, 20, false},  // most docs score 0
                                           SearchCase{1, 5, 3, 5, true},
                                           SearchCase{50, 20, 5, 1, true}));

TEST(InvertedIndex, ExcludedDocumentNeverReturned) {
  std::mt19937 rng(99);
  const CsrMatrix docs = random_matrix(rng, 80, 20, 8, true);
  const CsrMatrix queries = random_matrix(rng, 30, 20, 4, true);
  const auto ids = random_ids(rng, 80);
  const InvertedIndex index(docs, ids);
  std::vector<std::optional<std::uint32_t>> exclude(queries.rows);
  for (std::uint32_t q = 0; q < queries.rows; ++q) exclude[q] = (q % 3 == 0) ? std::nullopt : std::optional(q * 2);
  const auto with_exclusion = index.search(queries, 100, 2, &exclude);
  const auto reference = brute_force_search(docs, ids, queries, 100);
  for (std::uint32_t q = 0; q < queries.rows; ++q) {
    std::vector<Hit> expected;
    for (const Hit& h : reference[q]) {
      if (!exclude[q] || h.doc != *exclude[q]) expected.push_back(h);
    }
    SCOPED_TRACE("query " + std::to_string(q));
    expect_same_hits(with_exclusion[q], expected);
  }
}

TEST(InvertedIndex, TiesBrokenByDocIdDescendingAsStrcmp) {
  // Three documents with the same score: trec_eval ranks "b" > "a" > "B" (byte order, descending).
  CsrBuilder builder(2);
  const std::vector<std::pair<std::uint32_t, float>> row{{0, 1.0F}};
  builder.add_row(row);
  builder.add_row(row);
  builder.add_row(row);
  builder.add_row({});
  const CsrMatrix docs = std::move(builder).finish();
  const std::vector<std::string> ids{"a", "b", "B", "\xc3\xa9"};  // é sorts after ASCII bytes
  CsrBuilder query_builder(2);
  query_builder.add_row(row);
  const CsrMatrix queries = std::move(query_builder).finish();
  const InvertedIndex index(docs, ids);
  const auto hits = index.search(queries, 10)[0];
  ASSERT_EQ(hits.size(), 4U);
  EXPECT_EQ(hits[0].doc, 1U);  // "b"
  EXPECT_EQ(hits[1].doc, 0U);  // "a"
  EXPECT_EQ(hits[2].doc, 2U);  // "B"
  EXPECT_EQ(hits[3].doc, 3U);  // score 0 comes last, even with the largest id
  EXPECT_EQ(hits[3].score, 0.0F);
}

// LIMIT's BM25 shape: terms [0, common_terms) are held by most documents (the first by all, with
// small weights, as "like"), the others are rare. Weights come from a small set when ties are
// wanted; `negative` makes some document weights negative (pruning must then step aside).
struct LimitLikeCase {
  std::uint32_t docs = 3000;
  std::uint32_t vocab = 400;
  std::uint32_t common_terms = 1;
  std::uint32_t doc_rare_terms = 12;
  std::uint32_t query_rare_terms_max = 3;
  bool ties = true;
  bool negative = false;
  float common_weight_scale = 0.05F;  // the common terms' weights are small, as BM25's idf makes them
};

struct Collection {
  CsrMatrix docs;
  CsrMatrix queries;
  std::vector<std::string> ids;
};

Collection limit_like(std::mt19937& rng, const LimitLikeCase& c, std::uint32_t queries) {
  std::uniform_real_distribution<float> unit(0.0F, 1.0F);
  std::uniform_int_distribution<int> small_value(1, 4);
  std::uniform_int_distribution<std::uint32_t> rare_term(c.common_terms, c.vocab - 1);
  // Rare terms are drawn with a skew, so that some are held by a few documents, some by many.
  const auto skewed_rare_term = [&] {
    const std::uint32_t span = c.vocab - c.common_terms;
    return c.common_terms + static_cast<std::uint32_t>(static_cast<float>(span) * unit(rng) * unit(rng));
  };
  const auto value = [&] { return c.ties ? static_cast<float>(small_value(rng)) * 0.25F : 0.01F + unit(rng) * 3.0F; };
  Collection out;
  CsrBuilder docs(c.vocab);
  std::vector<std::pair<std::uint32_t, float>> entries;
  for (std::uint32_t d = 0; d < c.docs; ++d) {
    entries.clear();
    for (std::uint32_t t = 0; t < c.common_terms; ++t) {
      // The first common term is in every document, the others in about 1/(t + 1) of them.
      if (t == 0 || unit(rng) * static_cast<float>(t + 1) < 1.0F) {
        entries.emplace_back(t, value() * c.common_weight_scale);
      }
    }
    for (std::uint32_t i = 0; i < c.doc_rare_terms; ++i) entries.emplace_back(skewed_rare_term(), value());
    if (c.negative && unit(rng) < 0.1F) entries.emplace_back(rare_term(rng), -value());
    docs.add_row(entries);
  }
  out.docs = std::move(docs).finish();
  CsrBuilder query_rows(c.vocab);
  std::uniform_int_distribution<std::uint32_t> rare_count(0, c.query_rare_terms_max);
  for (std::uint32_t q = 0; q < queries; ++q) {
    entries.clear();
    if (q % 17 != 16) {  // a few queries hold nothing at all
      for (std::uint32_t t = 0; t < c.common_terms; ++t) {
        if (t == 0 || unit(rng) < 0.5F) entries.emplace_back(t, 0.5F + unit(rng));
      }
      const std::uint32_t n = rare_count(rng);
      for (std::uint32_t i = 0; i < n; ++i) {
        entries.emplace_back(q % 3 == 0 ? rare_term(rng) : skewed_rare_term(), c.ties ? 1.0F : 0.5F + unit(rng));
      }
    }
    query_rows.add_row(entries);
  }
  out.queries = std::move(query_rows).finish();
  out.ids = random_ids(rng, c.docs);
  return out;
}

// brute_force_search without the excluded documents (it knows no exclusion).
std::vector<std::vector<Hit>> brute_force_excluding(const Collection& c, std::size_t k,
                                                    const std::vector<std::optional<std::uint32_t>>& exclude) {
  auto reference = brute_force_search(c.docs, c.ids, c.queries, k + 1);
  for (std::size_t q = 0; q < reference.size(); ++q) {
    auto& hits = reference[q];
    if (exclude[q]) std::erase_if(hits, [&](const Hit& hit) { return hit.doc == *exclude[q]; });
    hits.resize(std::min(hits.size(), k));
  }
  return reference;
}

void expect_same_as_brute_force(const Collection& c, std::size_t k, std::uint32_t seed) {
  // Every fifth query excludes a document that would rank high (BEIR's ignore_identical_ids).
  const auto unexcluded = brute_force_search(c.docs, c.ids, c.queries, 3);
  std::vector<std::optional<std::uint32_t>> exclude(c.queries.rows);
  for (std::uint32_t q = 0; q < c.queries.rows; q += 5) {
    if (!unexcluded[q].empty()) exclude[q] = unexcluded[q][q % unexcluded[q].size()].doc;
  }
  const auto reference = brute_force_excluding(c, k, exclude);
  std::vector<std::string_view> id_views(c.ids.begin(), c.ids.end());
  const InvertedIndex full(c.docs, c.ids, 2);
  const InvertedIndex for_these_queries(c.docs, id_views, c.queries, 2);
  for (const InvertedIndex* index : {&full, &for_these_queries}) {
    for (const std::size_t threads : {1U, 2U, 3U}) {
      const auto fast = index->search(c.queries, k, threads, &exclude);
      ASSERT_EQ(fast.size(), reference.size());
      for (std::size_t q = 0; q < fast.size(); ++q) {
        SCOPED_TRACE("seed " + std::to_string(seed) + ", query " + std::to_string(q) + ", threads " +
                     std::to_string(threads) + (index == &full ? ", full index" : ", query terms only"));
        expect_same_hits(fast[q], reference[q]);
      }
    }
  }
}

struct PrunedCase {
  const char* name;
  LimitLikeCase shape;
  std::size_t k;
};

class PrunedSearchVersusBruteForce : public ::testing::TestWithParam<PrunedCase> {};

TEST_P(PrunedSearchVersusBruteForce, SameTopKInSameOrder) {
  const PrunedCase& c = GetParam();
  for (std::uint32_t seed = 1; seed <= 3; ++seed) {
    std::mt19937 rng(seed * 7919 + static_cast<std::uint32_t>(c.k));
    const Collection collection = limit_like(rng, c.shape, 120);
    expect_same_as_brute_force(collection, c.k, seed);
  }
}

INSTANTIATE_TEST_SUITE_P(
    LimitLike, PrunedSearchVersusBruteForce,
    ::testing::Values(
        // One term in every document, heavy ties: rare terms settle some queries, the others
        // fill up from the common term's documents by value.
        PrunedCase{"one_common_term_ties", {}, 100},
        PrunedCase{"one_common_term_real_values", {.ties = false}, 100},
        PrunedCase{"small_k", {}, 3},
        // k above what the rare terms find, and above the corpus size.
        PrunedCase{"k_above_rare_matches", {.doc_rare_terms = 2}, 300},
        PrunedCase{"k_above_corpus", {.docs = 300, .doc_rare_terms = 4}, 500},
        // Several common terms (the threshold algorithm walks several lists).
        PrunedCase{"three_common_terms", {.common_terms = 3}, 100},
        PrunedCase{"three_common_terms_real_values", {.common_terms = 3, .ties = false}, 50},
        // Common terms weighing as much as rare ones: the bounds rarely settle the top k.
        PrunedCase{"heavy_common_terms", {.common_terms = 2, .common_weight_scale = 3.0F}, 100},
        // Negative weights: no pruning, same results.
        PrunedCase{"negative_values", {.common_terms = 2, .negative = true}, 100}),
    [](const ::testing::TestParamInfo<PrunedCase>& info) { return std::string(info.param.name); });

// Collections made to tie: every weight a multiple of 1/4 (sums are exact in float, so documents
// with other terms tie exactly), a term in every document and another in about half (the common
// terms that pruning bounds), a few rare terms, and repeated documents. Scores then tie at the
// pruning bound and at the k-th rank. `shape` picks which path the queries take: sparse (no common
// term), pruned (common + rare terms: the MaxScore bound, then the threshold walk), threshold walk
// only (common terms alone), or dense (too many rare postings, or a negative weight).
enum class TieShape { kMixed, kSparse, kCommonOnly, kDense };

Collection made_to_tie(std::mt19937& rng, std::uint32_t docs, TieShape shape) {
  constexpr std::uint32_t kCommon = 2;
  constexpr std::uint32_t kRare = 40;
  std::uniform_int_distribution<int> quarter(1, 4);
  std::uniform_int_distribution<std::uint32_t> rare_term(kCommon, kCommon + kRare - 1);
  std::uniform_int_distribution<int> percent(0, 99);
  const auto value = [&] { return static_cast<float>(quarter(rng)) * 0.25F; };
  Collection out;
  std::vector<std::vector<std::pair<std::uint32_t, float>>> rows;
  for (std::uint32_t d = 0; d < docs; ++d) {
    if (!rows.empty() && percent(rng) < 30) {  // a repeated document
      rows.push_back(rows[std::uniform_int_distribution<std::size_t>(0, rows.size() - 1)(rng)]);
      continue;
    }
    std::vector<std::pair<std::uint32_t, float>> entries{{0U, value()}};
    if (percent(rng) < 50) entries.emplace_back(1U, value());
    const int rare = shape == TieShape::kDense ? 6 : percent(rng) % 3;
    for (int i = 0; i < rare; ++i) entries.emplace_back(rare_term(rng), value());
    rows.push_back(std::move(entries));
  }
  CsrBuilder doc_rows(kCommon + kRare);
  for (const auto& row : rows) doc_rows.add_row(row);
  out.docs = std::move(doc_rows).finish();

  CsrBuilder query_rows(kCommon + kRare);
  for (std::uint32_t q = 0; q < 40; ++q) {
    std::vector<std::pair<std::uint32_t, float>> entries;
    if (shape != TieShape::kSparse) {
      entries.emplace_back(0U, static_cast<float>(1 + q % 2));
      if (q % 3 != 0) entries.emplace_back(1U, 0.5F * static_cast<float>(1 + q % 4));
    }
    if (shape != TieShape::kCommonOnly) {
      for (std::uint32_t i = 0; i < 1 + q % 3; ++i) entries.emplace_back(rare_term(rng), value());
    }
    if (shape == TieShape::kDense && q % 2 == 0) entries.emplace_back(rare_term(rng), -1.0F);
    query_rows.add_row(entries);
  }
  out.queries = std::move(query_rows).finish();
  out.ids = random_ids(rng, docs);
  return out;
}

struct TieCase {
  const char* name;
  TieShape shape;
  std::uint32_t docs;
};

class TiedScoresVersusBruteForce : public ::testing::TestWithParam<TieCase> {};

// k at every position (1 to past the corpus), so the cut-off falls at every place of every tie
// group: the first, the middle and the last member, and the bound.
TEST_P(TiedScoresVersusBruteForce, SameTopKForEveryK) {
  const TieCase& c = GetParam();
  for (std::uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed * 104729 + c.docs);
    const Collection collection = made_to_tie(rng, c.docs, c.shape);
    const InvertedIndex index(collection.docs, collection.ids, 1);
    // On even seeds every third query excludes its best document (BEIR's ignore_identical_ids).
    std::vector<std::optional<std::uint32_t>> exclude(collection.queries.rows);
    const auto best = brute_force_search(collection.docs, collection.ids, collection.queries, 1);
    for (std::uint32_t q = 0; q < exclude.size(); q += 3) {
      if (seed % 2 == 0) exclude[q] = best[q].at(0).doc;
    }
    const auto all = brute_force_excluding(collection, c.docs, exclude);
    for (std::size_t k = 1; k <= c.docs + 1; ++k) {
      const auto fast = index.search(collection.queries, k, 1, &exclude);
      for (std::size_t q = 0; q < fast.size(); ++q) {
        const std::vector<Hit> expected(all[q].begin(), all[q].begin() + static_cast<std::ptrdiff_t>(std::min(k, all[q].size())));
        SCOPED_TRACE("seed " + std::to_string(seed) + ", k " + std::to_string(k) + ", query " + std::to_string(q));
        expect_same_hits(fast[q], expected);
        if (::testing::Test::HasFailure()) return;  // one disagreement says enough
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(MadeToTie, TiedScoresVersusBruteForce,
                         ::testing::Values(TieCase{"pruned_10_docs", TieShape::kMixed, 10},
                                           TieCase{"pruned_24_docs", TieShape::kMixed, 24},
                                           TieCase{"pruned_64_docs", TieShape::kMixed, 64},
                                           TieCase{"threshold_walk_only", TieShape::kCommonOnly, 24},
                                           TieCase{"sparse", TieShape::kSparse, 64},
                                           TieCase{"dense", TieShape::kDense, 24}),
                         [](const ::testing::TestParamInfo<TieCase>& info) { return std::string(info.param.name); });

// The case the review found: ten documents, the k-th candidate's score equal to the pruning bound,
// and a document outside the candidates (it holds only the common term, at its largest value)
// scoring exactly that bound with a larger id: it ranks first of the two.
TEST(InvertedIndex, DocumentAtThePruningBoundOutranksACandidateWithASmallerId) {
  CsrBuilder docs(3);
  using Row = std::vector<std::pair<std::uint32_t, float>>;
  docs.add_row(Row{{0U, 0.5F}, {1U, 0.5F}});  // "a": candidate, 0.5 + 0.5 = 1 = bound
  for (int i = 0; i < 8; ++i) docs.add_row(Row{{0U, 0.25F}, {2U, 1.0F}});
  docs.add_row(Row{{0U, 1.0F}});  // "z": untouched by the rare term, 1 = bound
  const CsrMatrix documents = std::move(docs).finish();
  const std::vector<std::string> ids{"a", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "z"};
  CsrBuilder query(3);
  query.add_row(Row{{0U, 1.0F}, {1U, 1.0F}});
  const CsrMatrix queries = std::move(query).finish();
  const InvertedIndex index(documents, ids);
  for (std::size_t k = 1; k <= 11; ++k) {
    SCOPED_TRACE("k " + std::to_string(k));
    const auto fast = index.search(queries, k)[0];
    const auto reference = brute_force_search(documents, ids, queries, k)[0];
    expect_same_hits(fast, reference);
  }
  EXPECT_EQ(index.search(queries, 1)[0].at(0).doc, 9U);  // "z"
}

TEST(InvertedIndex, NegativeQueryWeightsAreNotPruned) {
  std::mt19937 rng(77);
  Collection c = limit_like(rng, {}, 60);
  for (float& weight : c.queries.values) {
    if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) weight = -weight;
  }
  expect_same_as_brute_force(c, 100, 77);
}

TEST(InvertedIndex, IndexOfQueryTermsRefusesOtherQueries) {
  std::mt19937 rng(3);
  const Collection c = limit_like(rng, {}, 10);
  const std::vector<std::string_view> ids(c.ids.begin(), c.ids.end());
  CsrBuilder only_common(c.docs.cols);
  const std::vector<std::pair<std::uint32_t, float>> like{{0U, 1.0F}};
  only_common.add_row(like);
  const CsrMatrix common_query = std::move(only_common).finish();
  const InvertedIndex index(c.docs, ids, common_query);
  EXPECT_NO_THROW((void)index.search(common_query, 10));
  EXPECT_THROW((void)index.search(c.queries, 10), ContractError);
}

}  // namespace
}  // namespace limit_eval::sparse
