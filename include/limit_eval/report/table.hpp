#pragma once

#include <optional>
#include <string>
#include <vector>

#include "limit_eval/eval/metrics.hpp"

namespace limit_eval::report {

// One row of the seed README's results table.
struct TableRow {
  std::string model;
  eval::MetricValues metrics;
  std::optional<double> corpus_encoding_s;
  std::optional<double> query_encoding_s;
};

// The seed README's columns, in its order.
const std::vector<std::string>& table_metric_columns();

// The metric columns for the cut-offs `k_values` (sorted, distinct): NDCG@10 when 10 is one of
// them, else NDCG at the largest; then Recall at each. For the default 2,10,20,100 these are the
// seed README's columns.
std::vector<std::string> table_metric_columns(const std::vector<int>& k_values);

// Markdown table: Model | the metric columns | Corpus Encoding Time (s) | Query Encoding Time (s);
// values with 4 decimals, "n/a" when absent. Without `k_values`, the seed README's columns.
std::string markdown_table(const std::vector<TableRow>& rows);
std::string markdown_table(const std::vector<TableRow>& rows, const std::vector<int>& k_values);

// Any markdown table: a header row, a rule of dashes as wide as each header, then the rows
// (each as many cells as the header; ContractError otherwise). A "|" inside a cell is escaped.
std::string markdown_grid(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace limit_eval::report
