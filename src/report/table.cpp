#include "limit_eval/report/table.hpp"

#include <fmt/format.h>

namespace limit_eval::report {

const std::vector<std::string>& table_metric_columns() {
  static const std::vector<std::string> columns{"NDCG@10", "Recall@2", "Recall@10", "Recall@20", "Recall@100"};
  return columns;
}

namespace {
std::string cell(const std::optional<double>& value) { return value ? fmt::format("{:.4f}", *value) : "n/a"; }
}  // namespace

std::string markdown_table(const std::vector<TableRow>& rows) {
  std::vector<std::string> header{"Model"};
  for (const auto& c : table_metric_columns()) header.push_back(c);
  header.emplace_back("Corpus Encoding Time (s)");
  header.emplace_back("Query Encoding Time (s)");

  std::string out = fmt::format("| {} |\n", fmt::join(header, " | "));
  std::vector<std::string> rule;
  for (const auto& h : header) rule.emplace_back(h.size(), '-');
  out += fmt::format("| {} |\n", fmt::join(rule, " | "));
  for (const auto& row : rows) {
    std::vector<std::string> cells{row.model};
    for (const auto& c : table_metric_columns()) {
      const auto it = row.metrics.find(c);
      cells.push_back(cell(it == row.metrics.end() ? std::nullopt : std::optional(it->second)));
    }
    cells.push_back(cell(row.corpus_encoding_s));
    cells.push_back(cell(row.query_encoding_s));
    out += fmt::format("| {} |\n", fmt::join(cells, " | "));
  }
  return out;
}

}  // namespace limit_eval::report
