#include "limit_eval/report/table.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::report {

const std::vector<std::string>& table_metric_columns() {
  static const std::vector<std::string> columns{"NDCG@10", "Recall@2", "Recall@10", "Recall@20", "Recall@100"};
  return columns;
}

std::vector<std::string> table_metric_columns(const std::vector<int>& k_values) {
  if (k_values.empty()) return table_metric_columns();
  const bool has_10 = std::find(k_values.begin(), k_values.end(), 10) != k_values.end();
  std::vector<std::string> columns{fmt::format("NDCG@{}", has_10 ? 10 : *std::max_element(k_values.begin(), k_values.end()))};
  for (const int k : k_values) columns.push_back(fmt::format("Recall@{}", k));
  return columns;
}

namespace {

std::string cell(const std::optional<double>& value) { return value ? fmt::format("{:.4f}", *value) : "n/a"; }

std::string escape_cell(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c == '\n' ? ' ' : c;
  }
  return escaped;
}

std::string markdown_row(const std::vector<std::string>& cells) {
  std::vector<std::string> escaped;
  escaped.reserve(cells.size());
  for (const auto& c : cells) escaped.push_back(escape_cell(c));
  return fmt::format("| {} |\n", fmt::join(escaped, " | "));
}

}  // namespace

std::string markdown_grid(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string out = markdown_row(header);
  std::vector<std::string> rule;
  rule.reserve(header.size());
  for (const auto& h : header) rule.emplace_back(std::max<std::size_t>(h.size(), 3), '-');
  out += fmt::format("| {} |\n", fmt::join(rule, " | "));
  for (const auto& row : rows) {
    if (row.size() != header.size()) {
      throw ContractError(fmt::format("markdown_grid: a row of {} cells under {} headers", row.size(), header.size()));
    }
    out += markdown_row(row);
  }
  return out;
}

std::string markdown_table(const std::vector<TableRow>& rows) { return markdown_table(rows, {}); }

std::string markdown_table(const std::vector<TableRow>& rows, const std::vector<int>& k_values) {
  const std::vector<std::string> columns = table_metric_columns(k_values);
  std::vector<std::string> header{"Model"};
  for (const auto& c : columns) header.push_back(c);
  header.emplace_back("Corpus Encoding Time (s)");
  header.emplace_back("Query Encoding Time (s)");

  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  for (const auto& row : rows) {
    std::vector<std::string> line{row.model};
    for (const auto& c : columns) {
      const auto it = row.metrics.find(c);
      line.push_back(cell(it == row.metrics.end() ? std::nullopt : std::optional(it->second)));
    }
    line.push_back(cell(row.corpus_encoding_s));
    line.push_back(cell(row.query_encoding_s));
    cells.push_back(std::move(line));
  }
  return markdown_grid(header, cells);
}

}  // namespace limit_eval::report
