#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace limit_eval::sparse
