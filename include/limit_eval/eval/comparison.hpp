#pragma once

// Comparing systems query by query: paired significance tests of one metric, win/tie/loss
// counts, and LIMIT's reading (how many queries each system gets fully right, and which only one
// of two gets right). Torch-free; deterministic for a given seed.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/eval/significance.hpp"

namespace limit_eval::eval {

// One system's per-query metric values (a results JSON's "per_query", or a run file evaluated).
struct SystemScores {
  std::string name;             // as shown in tables (the model name, or the file name)
  std::filesystem::path source; // the file it came from (named in errors)
  std::map<std::string, MetricValues> per_query;
};

struct ComparisonOptions {
  std::string metric = "NDCG@10";
  PairedTest test = PairedTest::t;
  Correction correction = Correction::holm;
  double alpha = 0.05;                  // significance level; the intervals are at 1 - alpha
  std::size_t samples = 10000;          // permutations of the randomization test, bootstrap resamples
  std::uint64_t seed = 42;
  std::vector<int> fully_right_k{2, 10, 100};
};

// A query is fully right at k when every relevant document is in the top k: Recall@k = 1 (for
// LIMIT, both relevant documents).
struct SystemSummary {
  std::string name;
  double mean = 0.0;                          // of the metric over the compared queries
  std::map<int, std::size_t> fully_right;     // k -> queries fully right (k with Recall@k only)
};

struct FullyRightSplit {
  std::vector<std::string> only_baseline;  // query ids, sorted
  std::vector<std::string> only_model;
};

// The model against the baseline: differences are model - baseline.
struct PairComparison {
  std::size_t baseline = 0;  // index into Comparison::systems
  std::size_t model = 0;
  double baseline_mean = 0.0;
  double model_mean = 0.0;
  double difference = 0.0;
  double ci_low = 0.0;   // paired bootstrap percentile interval of the difference, at 1 - alpha
  double ci_high = 0.0;
  std::optional<double> t;  // the t statistic, for the t-test
  double p = 1.0;           // of the chosen test
  double p_corrected = 1.0; // over every pair of this comparison
  bool significant = false; // p_corrected < alpha
  std::size_t wins = 0;     // queries where the model scores higher
  std::size_t ties = 0;
  std::size_t losses = 0;
  std::map<int, FullyRightSplit> fully_right;  // k -> queries only one of the two gets fully right
};

struct Comparison {
  ComparisonOptions options;
  std::size_t queries = 0;
  std::vector<SystemSummary> systems;
  std::vector<PairComparison> pairs;
  std::vector<int> fully_right_k;  // the options' k for which every system has Recall@k
};

// Compares every system with every later one (pairs (0,1), (0,2), ..., (1,2), ...), or, with a
// baseline index, the baseline with every other system. The systems must hold the same query ids
// and the metric for each: otherwise DataError naming the file and a query that differs. Queries
// are visited in id order; every pair resamples with the same seed, so a pair's numbers do not
// depend on the other systems. UsageError for fewer than 2 systems or queries, alpha outside
// (0, 1), or no samples.
Comparison compare_systems(const std::vector<SystemScores>& systems, std::optional<std::size_t> baseline,
                           const ComparisonOptions& options);

}  // namespace limit_eval::eval
