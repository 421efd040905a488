#include "limit_eval/encode/bm25_encoder.hpp"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::encode {
namespace {

using data::Document;
using data::Query;

// Row r of m as column -> value.
std::map<std::uint32_t, float> row_of(const sparse::CsrMatrix& m, std::uint32_t r) {
  std::map<std::uint32_t, float> row;
  const auto indices = m.row_indices(r);
  const auto values = m.row_values(r);
  for (std::size_t i = 0; i < indices.size(); ++i) row[indices[i]] = values[i];
  return row;
}

float dot(const sparse::CsrMatrix& queries, std::uint32_t q, const sparse::CsrMatrix& documents, std::uint32_t d) {
  const auto document = row_of(documents, d);
  float score = 0.0F;
  for (const auto& [column, weight] : row_of(queries, q)) {
    const auto found = document.find(column);
    if (found != document.end()) score += weight * found->second;
  }
  return score;
}

// Tiny corpus worked by hand. Terms after analysis (title + "\n" + text):
//   d0 "Cats" / "cats like fish"        -> cat cat like fish   |d| = 4
//   d1 ""     / "Dogs like bones and the park" -> dog like bone park |d| = 4 (and, the: stopwords)
//   d2 ""     / "fish"                  -> fish                |d| = 1
//   d3 ""     / "The a"                 -> (nothing)           |d| = 0, still counts in N and avgdl
// N = 4, avgdl = 9 / 4 = 2.25; df: cat 1, like 2, fish 2, dog 1, bone 1, park 1.
// idf(df=1) = ln(1 + 3.5/1.5) = ln(10/3); idf(df=2) = ln(1 + 2.5/2.5) = ln 2.
// length norm K = 1.5 * (0.25 + 0.75 * |d| / 2.25): d0, d1 -> 2.375; d2 -> 0.875.
const std::vector<Document> kCorpus = {
    {"d0", "Cats", "cats like fish"},
    {"d1", "", "Dogs like bones and the park"},
    {"d2", "", "fish"},
    {"d3", "", "The a"},
};

TEST(Bm25Encoder, HandCheckedWeightsAndScores) {
  Bm25Encoder encoder;
  const sparse::CsrMatrix documents = encoder.encode_documents(kCorpus);
  ASSERT_EQ(documents.rows, 4U);
  ASSERT_EQ(encoder.dimensions(), 6U);
  const std::vector<std::string> expected_vocabulary = {"cat", "like", "fish", "dog", "bone", "park"};
  for (std::uint32_t c = 0; c < 6; ++c) EXPECT_EQ(encoder.term(c), expected_vocabulary[c]);

  const double idf_rare = std::log(10.0 / 3.0);
  const double idf_common = std::log(2.0);
  // weight = idf * tf / (tf + K)
  const std::map<std::uint32_t, float> d0 = {{0, static_cast<float>(idf_rare * 2.0 / 4.375)},
                                             {1, static_cast<float>(idf_common / 3.375)},
                                             {2, static_cast<float>(idf_common / 3.375)}};
  const std::map<std::uint32_t, float> d1 = {{1, static_cast<float>(idf_common / 3.375)},
                                             {3, static_cast<float>(idf_rare / 3.375)},
                                             {4, static_cast<float>(idf_rare / 3.375)},
                                             {5, static_cast<float>(idf_rare / 3.375)}};
  const std::map<std::uint32_t, float> d2 = {{2, static_cast<float>(idf_common / 1.875)}};
  const std::vector<std::map<std::uint32_t, float>> expected = {d0, d1, d2, {}};
  for (std::uint32_t d = 0; d < 4; ++d) {
    const auto row = row_of(documents, d);
    ASSERT_EQ(row.size(), expected[d].size()) << "doc " << d;
    for (const auto& [column, weight] : expected[d]) {
      ASSERT_TRUE(row.contains(column)) << "doc " << d << " column " << column;
      EXPECT_NEAR(row.at(column), weight, 1e-6 * weight) << "doc " << d << " column " << column;
    }
  }
  EXPECT_NEAR(row_of(documents, 0).at(0), 0.5503875732421875F, 1e-7);  // printed by bm25s

  const std::vector<Query> queries = {{"q0", "fish fish cats"}, {"q1", "unicorns"}, {"q2", "the"}};
  const sparse::CsrMatrix query_vectors = encoder.encode_queries(queries);
  ASSERT_EQ(query_vectors.rows, 3U);
  EXPECT_EQ(row_of(query_vectors, 0), (std::map<std::uint32_t, float>{{0, 1.0F}, {2, 2.0F}}));  // repeats count
  EXPECT_TRUE(row_of(query_vectors, 1).empty());  // unknown term dropped
  EXPECT_TRUE(row_of(query_vectors, 2).empty());  // stopword only

  // Scores bm25s 0.2.14 returns for the same corpus and query "fish fish cats".
  EXPECT_NEAR(dot(query_vectors, 0, documents, 0), 0.96114147F, 1e-6);
  EXPECT_NEAR(dot(query_vectors, 0, documents, 2), 0.739357F, 1e-6);
  EXPECT_EQ(dot(query_vectors, 0, documents, 1), 0.0F);
  EXPECT_EQ(dot(query_vectors, 0, documents, 3), 0.0F);
}

TEST(Bm25Encoder, ParametersChangeTheLengthNormalisation) {
  Bm25Encoder no_length_norm(Bm25Parameters{.k1 = 1.2, .b = 0.0});
  const sparse::CsrMatrix documents = no_length_norm.encode_documents(kCorpus);
  // b = 0: K = k1 for every document, so "fish" (tf 1) weighs the same in d0 and d2.
  const float expected = static_cast<float>(std::log(2.0) / 2.2);
  EXPECT_NEAR(row_of(documents, 0).at(2), expected, 1e-7);
  EXPECT_NEAR(row_of(documents, 2).at(2), expected, 1e-7);
  EXPECT_THROW(Bm25Encoder(Bm25Parameters{.k1 = -1.0, .b = 0.75}), UsageError);
  EXPECT_THROW(Bm25Encoder(Bm25Parameters{.k1 = 1.5, .b = 1.5}), UsageError);
}

TEST(Bm25Encoder, ErrorsAreClear) {
  Bm25Encoder encoder;
  EXPECT_THROW(encoder.encode_documents({}), Error);
  const std::vector<Query> queries = {{"q0", "fish"}};
  EXPECT_THROW(encoder.encode_queries(queries), Error);
}

TEST(Bm25Encoder, CorpusWithoutTermsGivesEmptyVectors) {
  Bm25Encoder encoder;
  const std::vector<Document> corpus = {{"d0", "", "the a"}, {"d1", "", "!"}};
  const sparse::CsrMatrix documents = encoder.encode_documents(corpus);
  EXPECT_EQ(documents.rows, 2U);
  EXPECT_EQ(documents.nnz(), 0U);
  EXPECT_EQ(encoder.dimensions(), 0U);
  const std::vector<Query> queries = {{"q0", "fish"}};
  EXPECT_EQ(encoder.encode_queries(queries).nnz(), 0U);
}

TEST(Bm25Encoder, ThreadCountDoesNotChangeTheResult) {
  std::vector<Document> corpus;
  std::vector<Query> queries;
  const std::vector<std::string> words = {"river", "otters", "tapirs", "running", "runs", "Quokkas", "the",
                                          "café", "Straße", "glaciers", "jazz", "and", "bassoons"};
  for (std::size_t i = 0; i < 500; ++i) {
    std::string text;
    for (std::size_t j = 0; j < 1 + (i * 7) % 23; ++j) text.append(words[(i * 31 + j * 17) % words.size()]).append(" ");
    std::string title = i % 3 == 0 ? words[i % words.size()] : std::string();
    std::string query = words[i % words.size()];
    query.append(" ").append(words[(i + 5) % words.size()]);
    corpus.push_back({std::to_string(i), std::move(title), std::move(text)});
    queries.push_back({std::to_string(i), std::move(query)});
  }
  Bm25Encoder single(Bm25Parameters{}, 1);
  Bm25Encoder several(Bm25Parameters{}, 3);
  const auto documents_single = single.encode_documents(corpus);
  const auto documents_several = several.encode_documents(corpus);
  EXPECT_EQ(documents_single.indptr, documents_several.indptr);
  EXPECT_EQ(documents_single.indices, documents_several.indices);
  EXPECT_EQ(documents_single.values, documents_several.values);
  const auto queries_single = single.encode_queries(queries);
  const auto queries_several = several.encode_queries(queries);
  EXPECT_EQ(queries_single.indices, queries_several.indices);
  EXPECT_EQ(queries_single.values, queries_several.values);
  for (std::uint32_t c = 0; c < single.dimensions(); ++c) EXPECT_EQ(single.term(c), several.term(c));
}

TEST(Bm25Encoder, DescribeNamesTheSettings) {
  Bm25Encoder encoder;
  (void)encoder.encode_documents(kCorpus);
  const nlohmann::json description = encoder.describe();
  EXPECT_EQ(description.at("kind"), "bm25");
  EXPECT_DOUBLE_EQ(description.at("k1").get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(description.at("b").get<double>(), 0.75);
  EXPECT_EQ(description.at("stopwords_count"), 33);
  EXPECT_EQ(description.at("vocabulary_size"), 6);
  EXPECT_EQ(description.at("documents"), 4);
  EXPECT_DOUBLE_EQ(description.at("average_document_length").get<double>(), 2.25);
  EXPECT_EQ(encoder.name(), "bm25");
}

}  // namespace
}  // namespace limit_eval::encode
