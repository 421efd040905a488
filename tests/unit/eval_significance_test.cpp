// Paired significance tests, multiple-comparison corrections, system comparison and the
// efficiency measures, against closed forms and hand-computed cases. (scipy, statsmodels and ranx
// check the same code on random and real data in tests/oracle/test_compare_oracle.py.)

#include <cmath>
#include <numbers>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/eval/comparison.hpp"
#include "limit_eval/eval/significance.hpp"
#include "limit_eval/sparse/csr.hpp"
#include "limit_eval/sparse/efficiency.hpp"

namespace limit_eval::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(StudentT, MatchesClosedFormsForOneAndTwoDegreesOfFreedom) {
  for (const double t : {0.0, 0.1, 0.5, 1.0, 2.0, 3.7, 12.0, 250.0}) {
    SCOPED_TRACE(t);
    // df = 1 is Cauchy: P(|T| >= t) = 1 - 2 atan(t) / pi.
    EXPECT_NEAR(student_t_two_sided_p(t, 1.0), 1.0 - 2.0 * std::atan(t) / std::numbers::pi, 1e-13);
    EXPECT_NEAR(student_t_two_sided_p(-t, 1.0), 1.0 - 2.0 * std::atan(t) / std::numbers::pi, 1e-13);
    // df = 2: P(|T| >= t) = 1 - t / sqrt(2 + t^2).
    const double closed = 1.0 - t / std::sqrt(2.0 + t * t);
    EXPECT_NEAR(student_t_two_sided_p(t, 2.0), closed, 1e-13 + 1e-11 * closed);
  }
  EXPECT_EQ(student_t_two_sided_p(std::numeric_limits<double>::infinity(), 5.0), 0.0);
}

TEST(StudentT, LargeDegreesOfFreedomApproachTheNormal) {
  // P(|Z| >= 1.959963984540054) = 0.05; with df = 1e7 the t tail differs by < 1e-7.
  EXPECT_NEAR(student_t_two_sided_p(1.959963984540054, 1e7), 0.05, 1e-7);
}

TEST(IncompleteBeta, MatchesClosedForms) {
  // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b.
  for (const double x : {0.0, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0}) {
    EXPECT_NEAR(regularized_incomplete_beta(x, 1.0, 1.0), x, 1e-14);
    EXPECT_NEAR(regularized_incomplete_beta(x, 3.5, 1.0), std::pow(x, 3.5), 1e-14);
    EXPECT_NEAR(regularized_incomplete_beta(x, 1.0, 7.0), 1.0 - std::pow(1.0 - x, 7.0), 1e-14);
  }
  EXPECT_THROW((void)regularized_incomplete_beta(1.5, 1.0, 1.0), UsageError);
}

TEST(PairedTTest, HandComputedCase) {
  // d = (1, 2, 3, 4): mean 2.5, sd sqrt(5/3), t = 2.5 / (sd / 2) = 3.872983346207417, df 3.
  const std::vector<double> a{0.0, 0.0, 0.0, 0.0};
  const std::vector<double> b{1.0, 2.0, 3.0, 4.0};
  const TTest t = paired_t_test(a, b);
  EXPECT_NEAR(t.t, 3.872983346207417, 1e-12);
  EXPECT_EQ(t.df, 3.0);
  EXPECT_GT(t.p, 0.0);
  EXPECT_LT(t.p, 0.05);
  // Swapping the systems flips t and keeps p.
  const TTest swapped = paired_t_test(b, a);
  EXPECT_NEAR(swapped.t, -t.t, 1e-12);
  EXPECT_DOUBLE_EQ(swapped.p, t.p);
}

TEST(PairedTTest, DegenerateDifferences) {
  const std::vector<double> a{0.5, 0.25, 1.0};
  const TTest same = paired_t_test(a, a);
  EXPECT_EQ(same.t, 0.0);
  EXPECT_EQ(same.p, 1.0);
  const std::vector<double> shifted{0.75, 0.5, 1.25};
  const TTest constant = paired_t_test(a, shifted);
  EXPECT_TRUE(std::isinf(constant.t) && constant.t > 0);
  EXPECT_EQ(constant.p, 0.0);
  EXPECT_THROW((void)paired_t_test(std::vector<double>{1.0}, std::vector<double>{2.0}), UsageError);
  EXPECT_THROW((void)paired_t_test(a, std::vector<double>{1.0, 2.0}), UsageError);
}

TEST(Randomization, ExactSmallCaseWithinMonteCarloError) {
  // d = (1, 1, 1): only the two sign patterns of equal signs reach |sum| = 3: p = 2/8.
  const std::vector<double> a{0.0, 0.0, 0.0};
  const std::vector<double> b{1.0, 1.0, 1.0};
  const std::size_t permutations = 200000;
  const double p = randomization_test(a, b, permutations, 7);
  EXPECT_NEAR(p, 0.25, 5.0 * std::sqrt(0.25 * 0.75 / permutations));
}

TEST(Randomization, SameSeedSameValueAndEqualScoresGiveOne) {
  const std::vector<double> a{0.1, 0.9, 0.4, 0.3, 0.8, 0.05};
  const std::vector<double> b{0.2, 0.7, 0.9, 0.35, 0.85, 0.4};
  EXPECT_EQ(randomization_test(a, b, 5000, 42), randomization_test(a, b, 5000, 42));
  EXPECT_EQ(randomization_test(a, a, 1000, 42), 1.0);
  EXPECT_THROW((void)randomization_test(a, b, 0, 42), UsageError);
}

TEST(Bootstrap, ConstantDifferencesAndDeterminism) {
  const std::vector<double> a{0.1, 0.9, 0.4, 0.3};
  const std::vector<double> b{0.35, 1.15, 0.65, 0.55};
  const Bootstrap constant = paired_bootstrap(a, b, 1000, 1, 0.95);
  EXPECT_NEAR(constant.ci_low, 0.25, 1e-12);
  EXPECT_NEAR(constant.ci_high, 0.25, 1e-12);
  EXPECT_EQ(constant.p, 0.0);
  const Bootstrap none = paired_bootstrap(a, a, 1000, 1, 0.95);
  EXPECT_EQ(none.ci_low, 0.0);
  EXPECT_EQ(none.ci_high, 0.0);
  EXPECT_EQ(none.p, 1.0);
  const std::vector<double> c{0.2, 0.1, 0.9, 0.3};
  const Bootstrap first = paired_bootstrap(a, c, 2000, 9, 0.9);
  const Bootstrap second = paired_bootstrap(a, c, 2000, 9, 0.9);
  EXPECT_EQ(first.ci_low, second.ci_low);
  EXPECT_EQ(first.ci_high, second.ci_high);
  EXPECT_EQ(first.p, second.p);
  EXPECT_LT(first.ci_low, first.ci_high);
  EXPECT_THROW((void)paired_bootstrap(a, c, 100, 1, 1.0), UsageError);
}

TEST(Corrections, HolmAndBonferroniByHand) {
  const std::vector<double> p{0.01, 0.04, 0.03, 0.005};
  // Holm: sorted 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> 0.06.
  const auto holm = correct_p_values(p, Correction::holm);
  const std::vector<double> expected_holm{0.03, 0.06, 0.06, 0.02};
  const std::vector<double> expected_bonferroni{0.04, 0.16, 0.12, 0.02};
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(holm[i], expected_holm[i], 1e-15);
  const auto bonferroni = correct_p_values(p, Correction::bonferroni);
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(bonferroni[i], expected_bonferroni[i], 1e-15);
  EXPECT_EQ(correct_p_values(p, Correction::none), p);
  EXPECT_THAT(correct_p_values(std::vector<double>{0.6, 0.9}, Correction::bonferroni), ElementsAre(1.0, 1.0));
}

SystemScores system(const std::string& name, const std::vector<std::pair<std::string, MetricValues>>& queries) {
  SystemScores scores{name, name + ".json", {}};
  for (const auto& [id, values] : queries) scores.per_query[id] = values;
  return scores;
}

TEST(CompareSystems, WinsTiesLossesAndFullyRightQueries) {
  const auto a = system("a", {{"q1", {{"NDCG@10", 1.0}, {"Recall@2", 1.0}, {"Recall@10", 1.0}}},
                              {"q2", {{"NDCG@10", 0.5}, {"Recall@2", 0.5}, {"Recall@10", 1.0}}},
                              {"q3", {{"NDCG@10", 0.2}, {"Recall@2", 0.0}, {"Recall@10", 0.5}}}});
  const auto b = system("b", {{"q1", {{"NDCG@10", 0.7}, {"Recall@2", 0.5}, {"Recall@10", 1.0}}},
                              {"q2", {{"NDCG@10", 0.5}, {"Recall@2", 1.0}, {"Recall@10", 1.0}}},
                              {"q3", {{"NDCG@10", 0.9}, {"Recall@2", 1.0}, {"Recall@10", 1.0}}}});
  ComparisonOptions options;
  options.samples = 500;
  const Comparison comparison = compare_systems({a, b}, std::nullopt, options);
  EXPECT_EQ(comparison.queries, 3U);
  EXPECT_THAT(comparison.fully_right_k, ElementsAre(2, 10));  // no Recall@100
  ASSERT_EQ(comparison.pairs.size(), 1U);
  const auto& pair = comparison.pairs.front();
  EXPECT_EQ(pair.wins, 1U);
  EXPECT_EQ(pair.ties, 1U);
  EXPECT_EQ(pair.losses, 1U);
  EXPECT_NEAR(pair.difference, (0.7 + 0.5 + 0.9 - 1.0 - 0.5 - 0.2) / 3, 1e-15);
  EXPECT_EQ(comparison.systems[0].fully_right.at(2), 1U);
  EXPECT_EQ(comparison.systems[1].fully_right.at(2), 2U);
  EXPECT_EQ(comparison.systems[0].fully_right.at(10), 2U);
  EXPECT_EQ(comparison.systems[1].fully_right.at(10), 3U);
  EXPECT_THAT(pair.fully_right.at(2).only_baseline, ElementsAre("q1"));
  EXPECT_THAT(pair.fully_right.at(2).only_model, ElementsAre("q2", "q3"));
  EXPECT_TRUE(pair.fully_right.at(10).only_baseline.empty());
  EXPECT_THAT(pair.fully_right.at(10).only_model, ElementsAre("q3"));
  ASSERT_TRUE(pair.t.has_value());
  EXPECT_DOUBLE_EQ(pair.p, paired_t_test(std::vector<double>{1.0, 0.5, 0.2}, std::vector<double>{0.7, 0.5, 0.9}).p);
}

TEST(CompareSystems, BaselineAndAllPairsWithCorrection) {
  std::vector<SystemScores> systems;
  for (int s = 0; s < 3; ++s) {
    std::vector<std::pair<std::string, MetricValues>> queries;
    for (int q = 0; q < 20; ++q) {
      queries.push_back({fmt::format("q{}", q), {{"NDCG@10", std::fmod(0.37 * (q + 1) * (s + 2), 1.0)}}});
    }
    systems.push_back(system(fmt::format("s{}", s), queries));
  }
  ComparisonOptions options;
  options.correction = Correction::bonferroni;
  options.samples = 200;
  const Comparison all = compare_systems(systems, std::nullopt, options);
  ASSERT_EQ(all.pairs.size(), 3U);
  EXPECT_EQ(all.pairs[0].baseline, 0U);
  EXPECT_EQ(all.pairs[0].model, 1U);
  EXPECT_EQ(all.pairs[2].baseline, 1U);
  EXPECT_EQ(all.pairs[2].model, 2U);
  for (const auto& pair : all.pairs) {
    EXPECT_DOUBLE_EQ(pair.p_corrected, std::min(1.0, 3 * pair.p));
    EXPECT_EQ(pair.significant, pair.p_corrected < options.alpha);
  }
  const Comparison against = compare_systems(systems, 2, options);
  ASSERT_EQ(against.pairs.size(), 2U);
  EXPECT_EQ(against.pairs[0].baseline, 2U);
  EXPECT_EQ(against.pairs[0].model, 0U);
  EXPECT_EQ(against.pairs[1].model, 1U);
  // A pair's numbers do not depend on the other systems.
  const Comparison alone = compare_systems({systems[0], systems[1]}, std::nullopt, options);
  EXPECT_EQ(alone.pairs[0].p, all.pairs[0].p);
  EXPECT_EQ(alone.pairs[0].ci_low, all.pairs[0].ci_low);
  EXPECT_EQ(alone.pairs[0].ci_high, all.pairs[0].ci_high);
}

TEST(CompareSystems, RefusesDifferentQueriesAndMissingMetrics) {
  const auto a = system("a", {{"q1", {{"NDCG@10", 1.0}}}, {"q2", {{"NDCG@10", 0.5}}}});
  const auto b = system("b", {{"q1", {{"NDCG@10", 1.0}}}, {"q3", {{"NDCG@10", 0.5}}}});
  try {
    (void)compare_systems({a, b}, std::nullopt, {});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(e.path(), "b.json");
    EXPECT_EQ(e.id(), "q2");
    EXPECT_THAT(e.what(), HasSubstr("same queries"));
  }
  const auto c = system("c", {{"q1", {{"NDCG@10", 1.0}}}, {"q2", {{"Recall@2", 0.5}}}});
  try {
    (void)compare_systems({a, c}, std::nullopt, {});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(e.id(), "q2");
    EXPECT_THAT(e.what(), HasSubstr("NDCG@10"));
  }
  EXPECT_THROW((void)compare_systems({a}, std::nullopt, {}), UsageError);
}

TEST(Efficiency, HandComputedMatrices) {
  // Documents over 4 dimensions: {0, 1}, {1}, {1, 2, 3}; queries: {1}, {0, 3}.
  sparse::CsrBuilder docs(4);
  docs.add_row(std::vector<std::pair<std::uint32_t, float>>{{0, 1.0F}, {1, 2.0F}});
  docs.add_row(std::vector<std::pair<std::uint32_t, float>>{{1, 0.5F}});
  docs.add_row(std::vector<std::pair<std::uint32_t, float>>{{1, 1.0F}, {2, 1.0F}, {3, 3.0F}});
  sparse::CsrBuilder queries(4);
  queries.add_row(std::vector<std::pair<std::uint32_t, float>>{{1, 1.0F}});
  queries.add_row(std::vector<std::pair<std::uint32_t, float>>{{0, 1.0F}, {3, 1.0F}});
  const auto efficiency = sparse::measure_efficiency(std::move(docs).finish(), std::move(queries).finish());
  EXPECT_EQ(efficiency.dimensions, 4U);
  EXPECT_EQ(efficiency.documents.vectors, 3U);
  EXPECT_DOUBLE_EQ(efficiency.documents.mean, 2.0);
  EXPECT_DOUBLE_EQ(efficiency.documents.median, 2.0);
  EXPECT_DOUBLE_EQ(efficiency.documents.p99, 2.0 + 0.98 * 1.0);  // numpy: between the 2nd and 3rd of 1, 2, 3
  EXPECT_EQ(efficiency.documents.max, 3U);
  EXPECT_DOUBLE_EQ(efficiency.documents.sparsity_ratio, 0.5);
  EXPECT_DOUBLE_EQ(efficiency.queries.mean, 1.5);
  EXPECT_DOUBLE_EQ(efficiency.queries.median, 1.5);
  // Per dimension (query fraction x document fraction): 0: 1/2 x 1/3, 1: 1/2 x 3/3, 2: 0, 3: 1/2 x 1/3.
  EXPECT_DOUBLE_EQ(efficiency.flops, (1.0 / 6 + 1.0 / 2 + 1.0 / 6));
  // Postings read per query: query 1 reads dimension 1 (3 postings); query 2 reads 0 and 3 (1 + 1).
  EXPECT_DOUBLE_EQ(efficiency.postings_per_query, 2.5);
  EXPECT_EQ(efficiency.index_bytes, 8U * 6U + 8U * 5U);
}

}  // namespace
}  // namespace limit_eval::eval
