#pragma once

// `limit-eval compare` and the results page's comparison section: which result files can be
// compared, and the comparison as markdown and JSON.

#include <optional>
#include <string>
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

// Markdown: a table of the systems (mean of the metric, queries fully right at each k, and the
// efficiency: active dimensions of documents and queries, FLOPS), then one of the pairs (means,
// difference, interval, p-values, significance, wins/ties/losses, queries only one of the two gets
// fully right). `heading_level` is the number of '#' of its heading.
std::string comparison_markdown(const eval::Comparison& comparison, const std::vector<ComparedSystem>& systems,
                                const std::string& dataset, int heading_level = 2);

// The same as JSON (format kComparisonFormat), with the query ids each pair's systems alone get
// fully right.
nlohmann::ordered_json comparison_json(const eval::Comparison& comparison, const std::vector<ComparedSystem>& systems,
                                       const std::string& dataset);

// Cells shared with the results page.
std::string p_value_cell(double p);
std::string interval_cell(double low, double high);

}  // namespace limit_eval::report
