#pragma once

// `limit-eval compare` and the results page's comparison section: which result files can be
// compared, and the comparison as markdown and JSON.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "limit_eval/eval/comparison.hpp"
#include "limit_eval/report/result_file.hpp"
#include "limit_eval/sparse/efficiency.hpp"

namespace limit_eval::report {

inline constexpr const char* kComparisonFormat = "limit-eval-comparison/1";

// A compared system: its per-query scores and, for a results JSON, its efficiency.
struct ComparedSystem {
  eval::SystemScores scores;
  std::string file;  // as given
  std::optional<sparse::Efficiency> efficiency;
};

// Refuses (DataError naming the later file) results that do not share the dataset (name,
// documents, queries, judgements) or the metric settings (top_k, k_values, relevance_level,
// ignore_identical_ids) of the first, or that hold no per-query values. The query sets are
// compared by eval::compare_systems.
void check_comparable(const std::vector<ResultFile>& results);

// The systems of result files, named by their model (by their file where two share a model name).
std::vector<ComparedSystem> compared_systems(const std::vector<ResultFile>& results);

// Names each system by `names[i]`, or by `files[i]` where two names are equal.
std::vector<std::string> distinct_names(const std::vector<std::string>& names, const std::vector<std::string>& files);

// Markdown: `heading`, what was tested, a table of the systems (mean of the metric, queries fully
// right at each k, and the efficiency: active dimensions of documents and queries, FLOPS), then
// one of the pairs (means, difference, interval, p-values, significance, wins/ties/losses, queries
// only one of the two gets fully right).
std::string comparison_markdown(const eval::Comparison& comparison, const std::vector<ComparedSystem>& systems,
                                const std::string& heading);

// The same as JSON (format kComparisonFormat), with the query ids each pair's systems alone get
// fully right.
nlohmann::ordered_json comparison_json(const eval::Comparison& comparison, const std::vector<ComparedSystem>& systems,
                                       const std::string& dataset);

// One comparison of the results page: the results of one dataset, one of them the baseline.
struct ComparisonGroup {
  std::string title;        // e.g. "limit-small: each model against bm25"
  std::string figure_name;  // file name part of its figure, e.g. "limit-small"
  std::vector<const ResultFile*> results;
  std::size_t baseline = 0;  // index into results
};

struct PageSection {
  std::string markdown;
  std::vector<std::pair<std::string, std::string>> figures;  // path relative to the page -> SVG
};

// The results page's comparison section: for each group, the comparison table (Fisher's
// randomization test of NDCG@10, 10,000 permutations, seed 42, Holm within the group, 95% paired
// bootstrap intervals), the command that reproduces it, and a figure of the distribution of the
// per-query differences (percent of queries per bin of width 0.1) with its data table. A group
// whose results cannot be compared (no per-query values, other settings) is named with the reason.
PageSection comparison_section(const std::vector<ComparisonGroup>& groups, const std::string& figures_folder,
                               const std::string& binary);

// A p-value as the tables show it: 4 decimals, or 3 significant digits below 0.001; a resampling
// test's 0 as "< 1/samples".
std::string p_value_cell(double p, eval::PairedTest test, std::size_t samples);
std::string interval_cell(double low, double high);

}  // namespace limit_eval::report
