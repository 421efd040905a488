#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/eval/trec_run.hpp"
#include "temp_folder.hpp"

namespace limit_eval::eval {
namespace {

using ::testing::HasSubstr;
// Not "Run": inside a TEST body that name is testing::Test::Run.
using RunMap = Run;

constexpr double kTolerance = 1e-12;

// fmt rather than "q" + std::to_string(n), on which GCC 12 warns falsely (-Wrestrict).
std::string numbered(std::string_view prefix, long n) { return fmt::format("{}{}", prefix, n); }

EvalOptions options_with_k(std::vector<int> k_values, int relevance_level = 1) {
  EvalOptions options;
  options.k_values = std::move(k_values);
  options.relevance_level = relevance_level;
  return options;
}

const MetricValues& only_query(const EvalResult& result, const std::string& query_id) {
  const auto found = result.per_query.find(query_id);
  EXPECT_NE(found, result.per_query.end()) << query_id;
  return found->second;
}

// ---------------------------------------------------------------------------------------------
// Hand-computed cases

TEST(Metrics, BinaryRelevanceByHand) {
  const data::Qrels qrels{{"q1", {{"d1", 1}, {"d3", 1}, {"d5", 1}}}};
  const RunMap run{{"q1", {{"d1", 0.9}, {"d2", 0.8}, {"d3", 0.7}, {"d4", 0.6}}}};
  const EvalResult result = evaluate(qrels, run, options_with_k({1, 2, 3, 5}));
  const MetricValues& v = only_query(result, "q1");
  // Ranking: d1 (relevant), d2, d3 (relevant), d4; 3 relevant judged, d5 never retrieved.
  EXPECT_NEAR(v.at("P@1"), 1.0, kTolerance);
  EXPECT_NEAR(v.at("P@2"), 0.5, kTolerance);
  EXPECT_NEAR(v.at("P@3"), 2.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("P@5"), 2.0 / 5.0, kTolerance);  // divides by k even with 4 retrieved
  EXPECT_NEAR(v.at("Recall@1"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("Recall@2"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("Recall@3"), 2.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("Recall@5"), 2.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("MAP@1"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("MAP@2"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("MAP@3"), (1.0 + 2.0 / 3.0) / 3.0, kTolerance);
  EXPECT_NEAR(v.at("MAP@5"), (1.0 + 2.0 / 3.0) / 3.0, kTolerance);
  const double ideal2 = 1.0 + 1.0 / std::log2(3.0);
  const double ideal3 = ideal2 + 1.0 / std::log2(4.0);
  EXPECT_NEAR(v.at("NDCG@1"), 1.0, kTolerance);
  EXPECT_NEAR(v.at("NDCG@2"), 1.0 / ideal2, kTolerance);
  EXPECT_NEAR(v.at("NDCG@3"), (1.0 + 1.0 / std::log2(4.0)) / ideal3, kTolerance);
  EXPECT_NEAR(v.at("NDCG@5"), (1.0 + 1.0 / std::log2(4.0)) / ideal3, kTolerance);
  for (const int k : {1, 2, 3, 5}) EXPECT_NEAR(v.at(numbered("MRR@", k)), 1.0, kTolerance);
  EXPECT_EQ(v.size(), 20U);
}

TEST(Metrics, GradedRelevanceWithZeroAndNegativeJudgements) {
  // z (0) and n (-1) are judged but neither relevant nor gainful; x is unjudged.
  const data::Qrels qrels{{"q", {{"a", 3}, {"b", 2}, {"c", 1}, {"z", 0}, {"n", -1}}}};
  const RunMap run{{"q", {{"c", 0.9}, {"n", 0.8}, {"a", 0.7}, {"x", 0.6}, {"b", 0.5}}}};
  const double dcg1 = 1.0;
  const double dcg3 = 1.0 + 3.0 / std::log2(4.0);
  const double dcg5 = dcg3 + 2.0 / std::log2(6.0);
  const double ideal1 = 3.0;
  const double ideal3 = 3.0 + 2.0 / std::log2(3.0) + 1.0 / std::log2(4.0);  // only 3 positive gains

  const MetricValues level1 = only_query(evaluate(qrels, run, options_with_k({1, 3, 5})), "q");
  EXPECT_NEAR(level1.at("NDCG@1"), dcg1 / ideal1, kTolerance);
  EXPECT_NEAR(level1.at("NDCG@3"), dcg3 / ideal3, kTolerance);
  EXPECT_NEAR(level1.at("NDCG@5"), dcg5 / ideal3, kTolerance);
  EXPECT_NEAR(level1.at("P@5"), 3.0 / 5.0, kTolerance);
  EXPECT_NEAR(level1.at("Recall@3"), 2.0 / 3.0, kTolerance);
  EXPECT_NEAR(level1.at("Recall@5"), 1.0, kTolerance);
  EXPECT_NEAR(level1.at("MAP@5"), (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0, kTolerance);
  EXPECT_NEAR(level1.at("MRR@1"), 1.0, kTolerance);

  // Level 2: c is no longer relevant, but its gain still counts in NDCG (as in trec_eval).
  const MetricValues level2 = only_query(evaluate(qrels, run, options_with_k({1, 2, 3, 5}, 2)), "q");
  EXPECT_NEAR(level2.at("NDCG@1"), dcg1 / ideal1, kTolerance);
  EXPECT_NEAR(level2.at("NDCG@5"), dcg5 / ideal3, kTolerance);
  EXPECT_NEAR(level2.at("P@5"), 2.0 / 5.0, kTolerance);
  EXPECT_NEAR(level2.at("Recall@3"), 1.0 / 2.0, kTolerance);
  EXPECT_NEAR(level2.at("MAP@5"), (1.0 / 3.0 + 2.0 / 5.0) / 2.0, kTolerance);
  EXPECT_NEAR(level2.at("MRR@2"), 0.0, kTolerance);
  EXPECT_NEAR(level2.at("MRR@3"), 1.0 / 3.0, kTolerance);
}

TEST(Metrics, IdealRankingUsesJudgementsNeverRetrieved) {
  const data::Qrels qrels{{"q", {{"a", 1}, {"unretrieved", 3}}}};
  const RunMap run{{"q", {{"a", 3.0}, {"b", 2.0}, {"c", 1.0}}}};
  const MetricValues v = only_query(evaluate(qrels, run, options_with_k({1, 2})), "q");
  EXPECT_NEAR(v.at("NDCG@1"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("NDCG@2"), 1.0 / (3.0 + 1.0 / std::log2(3.0)), kTolerance);
  EXPECT_NEAR(v.at("Recall@2"), 0.5, kTolerance);
  EXPECT_NEAR(v.at("MAP@2"), 0.5, kTolerance);
}

TEST(Metrics, QueryWithoutRelevantJudgementScoresZero) {
  const data::Qrels qrels{{"none", {{"a", 0}, {"b", -2}}}, {"empty", {}}, {"some", {{"a", 1}}}};
  const RunMap run{{"none", {{"a", 1.0}, {"b", 0.5}}}, {"empty", {{"a", 1.0}}}, {"some", {{"a", 1.0}}}};
  const EvalResult result = evaluate(qrels, run, options_with_k({1, 2}));
  ASSERT_EQ(result.evaluated_queries, 3U);
  for (const char* query : {"none", "empty"}) {
    for (const auto& [name, value] : only_query(result, query)) EXPECT_EQ(value, 0.0) << query << " " << name;
  }
  // Such queries still count in the mean, as in BEIR.
  EXPECT_NEAR(result.mean.at("NDCG@1"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(result.mean.at("P@2"), 0.5 / 3.0, kTolerance);
}

TEST(Metrics, RunQueryWithoutDocumentsIsEvaluated) {
  const data::Qrels qrels{{"q", {{"a", 1}}}};
  const RunMap run{{"q", {}}};
  const EvalResult result = evaluate(qrels, run, options_with_k({1}));
  ASSERT_EQ(result.evaluated_queries, 1U);
  for (const auto& [name, value] : only_query(result, "q")) EXPECT_EQ(value, 0.0) << name;
}

// ---------------------------------------------------------------------------------------------
// Ranking order

TEST(Ranking, EqualScoresRankByDocIdDescending) {
  const data::Qrels qrels{{"q", {{"a", 1}}}};
  const RunMap run{{"q", {{"a", 1.0}, {"c", 1.0}, {"b", 1.0}}}};
  const MetricValues v = only_query(evaluate(qrels, run, options_with_k({1, 2, 3})), "q");
  // Order c, b, a.
  EXPECT_NEAR(v.at("P@1"), 0.0, kTolerance);
  EXPECT_NEAR(v.at("P@3"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("MRR@2"), 0.0, kTolerance);
  EXPECT_NEAR(v.at("MRR@3"), 1.0 / 3.0, kTolerance);
  EXPECT_NEAR(v.at("NDCG@3"), 0.5, kTolerance);
}

TEST(Ranking, StrcmpOrderOnTies) {
  // strcmp: "b9" > "b2" > "b10" > "b1"; bytes compare unsigned, so "\xC3\xA9" (é) > "z".
  const std::vector<ScoredDoc> docs{{"b10", 1.0}, {"b9", 1.0}, {"b1", 1.0}, {"z", 0.5}, {"\xC3\xA9", 0.5},
                                    {"b2", 1.0},  {"top", 2.0}, {"neg", -0.0}, {"zero", 0.0}};
  const std::vector<std::size_t> order = rank_order("q", docs);
  std::vector<std::string> ids;
  for (const std::size_t i : order) ids.push_back(docs[i].doc_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"top", "b9", "b2", "b10", "b1", "\xC3\xA9", "z", "zero", "neg"}));
}

TEST(Ranking, InputOrderDoesNotMatter) {
  std::mt19937 rng(7);
  data::Qrels qrels;
  RunMap run;
  for (int q = 0; q < 20; ++q) {
    const std::string query = numbered("q", q);
    for (int d = 0; d < 30; ++d) {
      const std::string doc = numbered("d", d);
      if (rng() % 3 == 0) qrels[query][doc] = static_cast<int>(rng() % 4);
      run[query].push_back({doc, static_cast<double>(rng() % 4)});
    }
  }
  const EvalResult reference = evaluate(qrels, run, options_with_k({1, 5, 10, 30}));
  for (auto& [query, docs] : run) std::shuffle(docs.begin(), docs.end(), rng);
  const EvalResult shuffled = evaluate(qrels, run, options_with_k({1, 5, 10, 30}));
  EXPECT_EQ(reference.per_query, shuffled.per_query);  // exactly equal, not just close
}

// ---------------------------------------------------------------------------------------------
// Identical ids, missing queries, counters, errors

TEST(Metrics, IgnoreIdenticalIdsDropsTheQueryItself) {
  const data::Qrels qrels{{"q1", {{"q1", 1}, {"d1", 1}}}};
  const RunMap run{{"q1", {{"q1", 0.9}, {"d1", 0.8}, {"d2", 0.7}}}, {"other", {{"other", 1.0}}}};

  const EvalResult ignored = evaluate(qrels, run, options_with_k({1}));
  EXPECT_EQ(ignored.identical_ids_dropped, 2U);  // counted over every run query, as BEIR pops them
  const MetricValues& v = only_query(ignored, "q1");
  EXPECT_NEAR(v.at("P@1"), 1.0, kTolerance);        // d1 moves to rank 1
  EXPECT_NEAR(v.at("Recall@1"), 0.5, kTolerance);   // the qrels still count q1 as relevant

  EvalOptions keep = options_with_k({1});
  keep.ignore_identical_ids = false;
  const EvalResult kept = evaluate(qrels, run, keep);
  EXPECT_EQ(kept.identical_ids_dropped, 0U);
  EXPECT_NEAR(only_query(kept, "q1").at("Recall@1"), 0.5, kTolerance);
  EXPECT_NEAR(only_query(kept, "q1").at("MRR@1"), 1.0, kTolerance);
}

TEST(Metrics, OnlyQueriesInBothRunAndQrelsAreEvaluated) {
  const data::Qrels qrels{{"both", {{"a", 1}}}, {"qrels_only", {{"a", 1}}}, {"qrels_only_2", {{"b", 2}}}};
  const RunMap run{{"both", {{"a", 1.0}}}, {"run_only", {{"a", 1.0}}}};
  const EvalResult result = evaluate(qrels, run, options_with_k({1, 2}));
  EXPECT_EQ(result.evaluated_queries, 1U);
  EXPECT_EQ(result.run_queries_without_qrels, 1U);
  EXPECT_EQ(result.qrels_queries_without_run, 2U);
  ASSERT_EQ(result.per_query.size(), 1U);
  EXPECT_TRUE(result.per_query.contains("both"));
  EXPECT_EQ(result.mean, result.per_query.at("both"));
}

TEST(Metrics, NoEvaluatedQueryGivesZeroMeans) {
  const EvalResult result = evaluate({{"a", {{"d", 1}}}}, {{"b", {{"d", 1.0}}}}, options_with_k({3}));
  EXPECT_EQ(result.evaluated_queries, 0U);
  EXPECT_EQ(result.mean.size(), 5U);
  for (const auto& [name, value] : result.mean) EXPECT_EQ(value, 0.0) << name;
}

TEST(Metrics, DuplicateKValuesAreMerged) {
  const data::Qrels qrels{{"q", {{"a", 1}}}};
  const RunMap run{{"q", {{"a", 1.0}}}};
  const EvalResult result = evaluate(qrels, run, options_with_k({10, 2, 10}));
  EXPECT_EQ(result.mean.size(), 10U);
  EXPECT_TRUE(result.mean.contains("NDCG@2"));
  EXPECT_TRUE(result.mean.contains("MRR@10"));
}

TEST(Metrics, RejectsInvalidInput) {
  const data::Qrels qrels{{"q", {{"a", 1}}}};
  const RunMap good{{"q", {{"a", 1.0}}}};
  EXPECT_THROW(evaluate(qrels, good, options_with_k({})), UsageError);
  EXPECT_THROW(evaluate(qrels, good, options_with_k({0})), UsageError);
  EXPECT_THROW(evaluate(qrels, good, options_with_k({5, -1})), UsageError);
  EXPECT_THROW(evaluate(qrels, good, options_with_k({5}, 0)), UsageError);

  const RunMap duplicate{{"q", {{"a", 1.0}, {"b", 0.5}, {"a", 0.2}}}};
  try {
    evaluate(qrels, duplicate, options_with_k({5}));
    FAIL() << "duplicate accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'a'"));
    EXPECT_THAT(e.what(), HasSubstr("'q'"));
  }
  const RunMap not_a_number{{"q", {{"a", std::numeric_limits<double>::quiet_NaN()}}}};
  EXPECT_THROW(evaluate(qrels, not_a_number, options_with_k({5})), Error);
}

// ---------------------------------------------------------------------------------------------
// Properties on random data

struct RandomCase {
  data::Qrels qrels;
  RunMap run;
};

RandomCase random_case(std::uint32_t seed) {
  std::mt19937 rng(seed);
  RandomCase c;
  std::uniform_int_distribution<int> docs_per_query(0, 40);
  std::uniform_int_distribution<int> doc_number(0, 60);
  std::uniform_int_distribution<int> grade(-1, 3);
  std::uniform_int_distribution<int> score_bucket(0, 5);  // few distinct scores: many ties
  for (int q = 0; q < 50; ++q) {
    const std::string query = numbered("q", q);
    const int judged = docs_per_query(rng) / 4;
    for (int j = 0; j < judged; ++j) c.qrels[query][numbered("d", doc_number(rng))] = grade(rng);
    auto& docs = c.run[query];
    std::vector<int> numbers(61);
    for (int i = 0; i <= 60; ++i) numbers[static_cast<std::size_t>(i)] = i;
    std::shuffle(numbers.begin(), numbers.end(), rng);
    numbers.resize(static_cast<std::size_t>(docs_per_query(rng)));
    for (const int n : numbers) docs.push_back({numbered("d", n), score_bucket(rng) * 0.25});
  }
  return c;
}

TEST(MetricsProperties, BoundsMonotonicityAndPrecisionCounts) {
  const std::vector<int> ks{1, 2, 3, 5, 10, 20, 100};
  for (const std::uint32_t seed : {1U, 2U, 3U, 4U, 5U}) {
    const RandomCase c = random_case(seed);
    const EvalResult result = evaluate(c.qrels, c.run, options_with_k(ks));
    ASSERT_GT(result.evaluated_queries, 0U);
    for (const auto& [query, values] : result.per_query) {
      for (const auto& [name, value] : values) {
        EXPECT_GE(value, 0.0) << query << " " << name;
        EXPECT_LE(value, 1.0 + 1e-12) << query << " " << name;
      }
      for (std::size_t i = 1; i < ks.size(); ++i) {
        const std::string shorter = std::to_string(ks[i - 1]);
        const std::string longer = std::to_string(ks[i]);
        EXPECT_LE(values.at("Recall@" + shorter), values.at("Recall@" + longer)) << query;
        EXPECT_LE(values.at("MAP@" + shorter), values.at("MAP@" + longer)) << query;
        EXPECT_LE(values.at("MRR@" + shorter), values.at("MRR@" + longer)) << query;
      }
      // P@k * k is the number of relevant documents in the top k of the trec_eval ranking.
      const std::vector<ScoredDoc>& docs = c.run.at(query);
      const std::vector<std::size_t> order = rank_order(query, docs);
      const auto& judgements = c.qrels.at(query);
      for (const int k : ks) {
        int relevant = 0;
        for (std::size_t r = 0; r < order.size() && r < static_cast<std::size_t>(k); ++r) {
          const auto judged = judgements.find(docs[order[r]].doc_id);
          if (judged != judgements.end() && judged->second >= 1) ++relevant;
        }
        EXPECT_NEAR(values.at(numbered("P@", k)) * k, relevant, 1e-9) << query << " k=" << k;
      }
    }
    // The mean is the plain average over the evaluated queries.
    for (const auto& [name, mean] : result.mean) {
      double total = 0.0;
      for (const auto& [query, values] : result.per_query) total += values.at(name);
      EXPECT_NEAR(mean, total / static_cast<double>(result.evaluated_queries), 1e-12) << name;
    }
  }
}

TEST(MetricsProperties, PerfectRankingScoresOne) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> grade(0, 3);
  std::uniform_int_distribution<int> judged_count(1, 30);
  data::Qrels qrels;
  RunMap run;
  for (int q = 0; q < 40; ++q) {
    const std::string query = numbered("q", q);
    const int judged = judged_count(rng);
    for (int d = 0; d < judged; ++d) {
      const std::string doc = numbered("d", d);
      const int value = grade(rng);
      qrels[query][doc] = value;
      run[query].push_back({doc, static_cast<double>(value)});  // scores follow the grades
    }
    qrels[query]["sure"] = 3;
    run[query].push_back({"sure", 3.0});
  }
  const std::vector<int> ks{1, 2, 5, 10, 100};
  const EvalResult result = evaluate(qrels, run, options_with_k(ks));
  for (const auto& [query, values] : result.per_query) {
    std::size_t relevant = 0;
    for (const auto& [doc, value] : qrels.at(query)) relevant += value >= 1 ? 1 : 0;
    for (const int k : ks) {
      const std::string at = numbered("@", k);
      EXPECT_NEAR(values.at("NDCG" + at), 1.0, 1e-12) << query << at;
      EXPECT_NEAR(values.at("MRR" + at), 1.0, 1e-12) << query << at;
      const double expected_recall = std::min(1.0, static_cast<double>(k) / static_cast<double>(relevant));
      EXPECT_NEAR(values.at("Recall" + at), expected_recall, 1e-12) << query << at;
      EXPECT_NEAR(values.at("MAP" + at), expected_recall, 1e-12) << query << at;  // all top-k precisions are 1
      EXPECT_NEAR(values.at("P" + at), std::min<double>(static_cast<double>(relevant), k) / k, 1e-12) << query << at;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// evaluate_ranked: what evaluate() gives for the same run as strings

struct RankedCase {
  data::Qrels qrels;
  std::vector<std::string> doc_ids;
  std::vector<std::string> query_ids;
  std::vector<std::vector<sparse::Hit>> hits;  // trec_eval order, as InvertedIndex::search returns them
};

RankedCase random_ranked_case(std::uint32_t seed) {
  std::mt19937 rng(seed);
  RankedCase c;
  std::uniform_int_distribution<int> coin(0, 9);
  for (int d = 0; d < 150; ++d) c.doc_ids.push_back(coin(rng) == 0 ? numbered("Doc ", d) : numbered("d", d));
  for (int q = 0; q < 60; ++q) c.query_ids.push_back(numbered("q", q));
  // Some documents share an id with a query (BEIR drops them from that query's ranking).
  for (int d = 0; d < 150; d += 13) c.doc_ids[static_cast<std::size_t>(d)] = numbered("q", d % 60);
  std::uniform_int_distribution<std::size_t> doc(0, c.doc_ids.size() - 1);
  std::uniform_int_distribution<int> grade(-1, 3);
  std::uniform_int_distribution<int> judged(0, 8);
  for (int q = 0; q < 60; ++q) {
    if (q % 7 == 3) continue;  // in the run, not in the qrels
    auto& judgements = c.qrels[c.query_ids[static_cast<std::size_t>(q)]];
    const int n = judged(rng);
    for (int j = 0; j < n; ++j) judgements[c.doc_ids[doc(rng)]] = grade(rng);
    if (q % 5 == 0) judgements[numbered("ghost", q)] = 2;  // a document not in the corpus
  }
  for (int q = 0; q < 4; ++q) c.qrels[numbered("only-in-qrels", q)][c.doc_ids[doc(rng)]] = 1;

  std::uniform_int_distribution<int> depth(0, 120);
  std::uniform_int_distribution<int> score_bucket(0, 6);  // few distinct scores: many ties
  for (int q = 0; q < 60; ++q) {
    std::vector<std::uint32_t> rows(c.doc_ids.size());
    for (std::uint32_t r = 0; r < rows.size(); ++r) rows[r] = r;
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(std::min<std::size_t>(rows.size(), static_cast<std::size_t>(depth(rng))));
    auto& hits = c.hits.emplace_back();
    for (const std::uint32_t row : rows) hits.push_back({row, static_cast<float>(score_bucket(rng)) * 0.5F});
    std::sort(hits.begin(), hits.end(), [&](const sparse::Hit& a, const sparse::Hit& b) {
      return a.score != b.score ? a.score > b.score : c.doc_ids[a.doc] > c.doc_ids[b.doc];
    });
  }
  return c;
}

RunMap string_run(const RankedCase& c) {
  RunMap run;
  for (std::size_t q = 0; q < c.hits.size(); ++q) {
    auto& docs = run[c.query_ids[q]];
    for (const auto& hit : c.hits[q]) docs.push_back({c.doc_ids[hit.doc], static_cast<double>(hit.score)});
  }
  return run;
}

EvalResult evaluate_ranked_case(const RankedCase& c, const EvalOptions& options, std::size_t threads = 1) {
  const std::vector<std::string_view> query_ids(c.query_ids.begin(), c.query_ids.end());
  const std::vector<std::string_view> doc_ids(c.doc_ids.begin(), c.doc_ids.end());
  return evaluate_ranked(c.qrels, query_ids, doc_ids, c.hits, options, threads);
}

TEST(EvaluateRanked, SameResultAsEvaluateOnTheStringRun) {
  for (const std::uint32_t seed : {1U, 2U, 3U, 4U, 5U, 6U}) {
    const RankedCase c = random_ranked_case(seed);
    const RunMap run = string_run(c);
    for (const auto& ks : {std::vector<int>{2, 10, 20, 100}, std::vector<int>{1, 3, 3, 50}}) {
      for (const int level : {1, 2}) {
        for (const bool ignore_identical_ids : {true, false}) {
          SCOPED_TRACE(fmt::format("seed {}, k {}, level {}, ignore_identical_ids {}", seed, fmt::join(ks, ","),
                                   level, ignore_identical_ids));
          EvalOptions options = options_with_k(ks, level);
          options.ignore_identical_ids = ignore_identical_ids;
          const EvalResult expected = evaluate(c.qrels, run, options);
          for (const std::size_t threads : {1U, 2U, 3U}) {
            const EvalResult ranked = evaluate_ranked_case(c, options, threads);
            EXPECT_EQ(ranked.evaluated_queries, expected.evaluated_queries) << threads << " threads";
            EXPECT_EQ(ranked.run_queries_without_qrels, expected.run_queries_without_qrels) << threads << " threads";
            EXPECT_EQ(ranked.qrels_queries_without_run, expected.qrels_queries_without_run) << threads << " threads";
            EXPECT_EQ(ranked.identical_ids_dropped, expected.identical_ids_dropped) << threads << " threads";
            // Exactly: the same arithmetic in the same order.
            EXPECT_EQ(ranked.mean, expected.mean) << threads << " threads";
            EXPECT_EQ(ranked.per_query, expected.per_query) << threads << " threads";
          }
          if (ignore_identical_ids) {
            EXPECT_GT(expected.identical_ids_dropped, 0U);
          }
        }
      }
    }
  }
}

TEST(EvaluateRanked, RefusesWhatEvaluateRefusesWithTheSameMessage) {
  RankedCase c = random_ranked_case(9);
  std::size_t q = 0;
  while (c.hits[q].size() < 3 || !c.qrels.contains(c.query_ids[q])) ++q;
  const auto message = [](const auto& run_evaluation) {
    try {
      run_evaluation();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };

  RankedCase not_a_number = c;
  not_a_number.hits[q][1].score = std::numeric_limits<float>::quiet_NaN();
  const RunMap nan_run = string_run(not_a_number);
  const std::string nan_message = message([&] { evaluate(c.qrels, nan_run, {}); });
  EXPECT_THAT(nan_message, HasSubstr("NaN"));
  EXPECT_EQ(message([&] { evaluate_ranked_case(not_a_number, {}); }), nan_message);

  RankedCase duplicate = c;
  duplicate.hits[q].push_back(duplicate.hits[q].front());
  duplicate.hits[q].back().score = -1.0F;  // still in rank order
  const RunMap duplicate_run = string_run(duplicate);
  const std::string duplicate_message = message([&] { evaluate(c.qrels, duplicate_run, {}); });
  EXPECT_THAT(duplicate_message, HasSubstr("more than once"));
  EXPECT_EQ(message([&] { evaluate_ranked_case(duplicate, {}); }), duplicate_message);

  RankedCase repeated_query = c;
  repeated_query.query_ids.push_back(c.query_ids[q]);
  repeated_query.hits.push_back(c.hits[q]);
  for (const std::size_t threads : {1U, 2U}) {  // with 2, the repeats are evaluated by different threads
    EXPECT_THAT(message([&] { evaluate_ranked_case(repeated_query, {}, threads); }), HasSubstr("twice"));
  }
  EXPECT_THROW(evaluate_ranked_case(c, options_with_k({0})), UsageError);
}

// ---------------------------------------------------------------------------------------------
// TREC run files

class TrecRunFile : public test::TempFolderTest {
 protected:

  // Expects read_trec_run to throw DataError whose message names the file and the line.
  void expect_data_error(const std::string& text, std::size_t line, const std::string& fragment) const {
    const auto path = write("bad.trec", text);
    try {
      read_trec_run(path);
      FAIL() << "accepted: " << text;
    } catch (const DataError& e) {
      EXPECT_EQ(e.line(), line);
      EXPECT_EQ(e.path(), path);
      EXPECT_THAT(e.what(), HasSubstr(path.string() + ":" + std::to_string(line)));
      EXPECT_THAT(e.what(), HasSubstr(fragment));
    }
  }
};

TEST_F(TrecRunFile, RoundTripKeepsEveryFloatScoreExactly) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> real(-5.0F, 50.0F);
  std::uniform_int_distribution<int> bucket(0, 3);
  RunMap run;
  for (int q = 0; q < 30; ++q) {
    auto& docs = run[numbered("query-", q)];
    for (int d = 0; d < 50; ++d) {
      const float score = d % 3 == 0 ? static_cast<float>(bucket(rng)) * 0.1F : real(rng);
      docs.push_back({numbered("doc", d), static_cast<double>(score)});
    }
  }
  run["tiny"] = {{"a", static_cast<double>(std::numeric_limits<float>::denorm_min())},
                 {"b", static_cast<double>(std::numeric_limits<float>::max())},
                 {"c", -0.0}};
  const auto path = folder_ / "sub" / "run.trec";
  write_trec_run(path, run, "my-tag");
  const RunMap back = read_trec_run(path);
  ASSERT_EQ(back.size(), run.size());
  for (const auto& [query, docs] : run) {
    const std::vector<ScoredDoc>& read_docs = back.at(query);
    const std::vector<std::size_t> order = rank_order(query, docs);
    ASSERT_EQ(read_docs.size(), docs.size());
    for (std::size_t r = 0; r < order.size(); ++r) {
      // The file holds documents in rank order, so they read back in that order.
      EXPECT_EQ(read_docs[r].doc_id, docs[order[r]].doc_id);
      EXPECT_EQ(read_docs[r].score, docs[order[r]].score) << query << " " << read_docs[r].doc_id;
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    EXPECT_EQ(entry.path(), path) << "left behind: " << entry.path();
  }
}

TEST_F(TrecRunFile, WritesSortedQueriesRanksAndShortestScores) {
  const RunMap run{{"q2", {{"x", 1.0}}},
                {"q10", {{"a", static_cast<double>(0.1F)}, {"c", 0.5}, {"b", 0.5}}}};
  const auto path = folder_ / "run.trec";
  write_trec_run(path, run, "bm25");
  EXPECT_EQ(test::read_file(path),
            "q10 Q0 c 1 0.5 bm25\n"
            "q10 Q0 b 2 0.5 bm25\n"
            "q10 Q0 a 3 0.10000000149011612 bm25\n"
            "q2 Q0 x 1 1 bm25\n");
}

TEST_F(TrecRunFile, RefusesUnwritableFields) {
  EXPECT_THROW(write_trec_run(folder_ / "r.trec", {{"q", {{"a", 1.0}}}}, "two words"), Error);
  EXPECT_THROW(write_trec_run(folder_ / "r.trec", {{"q", {{"", 1.0}}}}, "tag"), Error);
  // "a b" and "a_b" would both be written as "a_b".
  EXPECT_THROW(write_trec_run(folder_ / "r.trec", {{"q", {{"a b", 1.0}, {"a_b", 0.5}}}}, "tag"), Error);
  EXPECT_FALSE(std::filesystem::exists(folder_ / "r.trec"));
}

TEST_F(TrecRunFile, WhitespaceInIdsIsWrittenAsUnderscore) {
  // LIMIT's document ids are names.
  const RunMap run{{"query 1", {{"Geneva Durben", 2.0}, {"Ann\tLee", 1.0}}}};
  const auto path = folder_ / "run.trec";
  write_trec_run(path, run, "t");
  EXPECT_EQ(test::read_file(path), "query_1 Q0 Geneva_Durben 1 2 t\nquery_1 Q0 Ann_Lee 2 1 t\n");
  EXPECT_EQ(trec_id("a b\tc\nd"), "a_b_c_d");

  const data::Qrels qrels{{"query 1", {{"Geneva Durben", 1}, {"Ann\tLee", 0}}}};
  const data::Qrels mapped = trec_compatible_qrels(qrels, "qrels.jsonl");
  EXPECT_EQ(mapped.at("query_1").at("Geneva_Durben"), 1);
  EXPECT_EQ(mapped.at("query_1").at("Ann_Lee"), 0);
  const EvalResult result = evaluate(mapped, read_trec_run(path), EvalOptions{.k_values = {1}});
  EXPECT_EQ(result.mean.at("Recall@1"), 1.0);

  const data::Qrels colliding{{"q", {{"a b", 1}, {"a_b", 1}}}};
  try {
    (void)trec_compatible_qrels(colliding, "qrels.jsonl");
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("qrels.jsonl"));
    EXPECT_THAT(e.what(), HasSubstr("a_b"));
  }
}

TEST_F(TrecRunFile, ReadsTabsCarriageReturnsAndBlankLines) {
  const auto path = write("run.trec", "q1\tQ0\td1\t1\t2.5\trun\r\n\n  q1 Q0 d2 2 +1e-3 run  \nq2 0 d1 1 -inf r");
  const RunMap run = read_trec_run(path);
  ASSERT_EQ(run.size(), 2U);
  ASSERT_EQ(run.at("q1").size(), 2U);
  EXPECT_EQ(run.at("q1")[0].doc_id, "d1");
  EXPECT_EQ(run.at("q1")[0].score, 2.5);
  EXPECT_EQ(run.at("q1")[1].score, 1e-3);
  EXPECT_EQ(run.at("q2")[0].score, -std::numeric_limits<double>::infinity());
}

TEST_F(TrecRunFile, MalformedLinesNameFileAndLine) {
  expect_data_error("q1 Q0 d1 1 1.0 run\nq1 Q0 d2 2 1.0\n", 2, "found 5");
  expect_data_error("q1 Q0 d1 1 1.0 run extra\n", 1, "found 7");
  expect_data_error("q1 Q0 d1 1 1.0 run\n\nq1 Q0 d2 2 high run\n", 3, "'high'");
  expect_data_error("q1 Q0 d1 1 1.0x run\n", 1, "'1.0x'");
  expect_data_error("q1 Q0 d1 1 nan run\n", 1, "'nan'");
  expect_data_error("q1 Q0 d1 1 1.0 run\nq2 Q0 d1 1 1.0 run\nq1 Q0 d1 2 0.5 run\n", 3, "first on line 1");
}

TEST_F(TrecRunFile, MissingFileIsAnIoError) {
  EXPECT_THROW(read_trec_run(folder_ / "absent.trec"), IoError);
  EXPECT_THROW(read_trec_run(folder_), IoError);
}

}  // namespace
}  // namespace limit_eval::eval
