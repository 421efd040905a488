#include "limit_eval/sparse/efficiency.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::sparse {

namespace {

// numpy.percentile's default (linear) of sorted values, q in [0, 100].
double percentile_of_sorted(const std::vector<std::uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double position = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  const auto low = static_cast<double>(sorted[below]);
  const auto high = static_cast<double>(sorted[above]);
  return low + fraction * (high - low);
}

// Vectors holding each column.
std::vector<std::uint64_t> column_counts(const CsrMatrix& m) {
  std::vector<std::uint64_t> counts(m.cols, 0);
  for (const auto column : m.indices) ++counts[column];
  return counts;
}

}  // namespace

ActiveDimensions active_dimensions(const CsrMatrix& vectors) {
  ActiveDimensions result;
  result.vectors = vectors.rows;
  if (vectors.rows == 0) return result;
  std::vector<std::uint64_t> counts(vectors.rows);
  double sum = 0.0;
  double sparsity = 0.0;
  const auto columns = static_cast<double>(vectors.cols);
  for (std::uint32_t row = 0; row < vectors.rows; ++row) {
    counts[row] = vectors.indptr[row + 1] - vectors.indptr[row];
    sum += static_cast<double>(counts[row]);
    sparsity += columns > 0 ? 1.0 - static_cast<double>(counts[row]) / columns : 0.0;
  }
  result.mean = sum / vectors.rows;
  result.sparsity_ratio = sparsity / vectors.rows;
  std::sort(counts.begin(), counts.end());
  result.median = percentile_of_sorted(counts, 50.0);
  result.p99 = percentile_of_sorted(counts, 99.0);
  result.max = counts.back();
  return result;
}

Efficiency measure_efficiency(const CsrMatrix& documents, const CsrMatrix& queries) {
  if (documents.cols != queries.cols) {
    throw ContractError(
        fmt::format("document vectors have {} dimensions but query vectors {}", documents.cols, queries.cols));
  }
  Efficiency result;
  result.dimensions = documents.cols;
  result.documents = active_dimensions(documents);
  result.queries = active_dimensions(queries);
  const auto doc_counts = column_counts(documents);
  const auto query_counts = column_counts(queries);
  double pairs = 0.0;  // sum over columns of (queries using it) x (documents using it)
  for (std::uint32_t column = 0; column < documents.cols; ++column) {
    pairs += static_cast<double>(query_counts[column]) * static_cast<double>(doc_counts[column]);
  }
  if (queries.rows > 0) result.postings_per_query = pairs / queries.rows;
  if (queries.rows > 0 && documents.rows > 0) {
    result.flops = pairs / (static_cast<double>(queries.rows) * static_cast<double>(documents.rows));
  }
  result.index_bytes = 8 * static_cast<std::uint64_t>(documents.nnz()) + 8 * (static_cast<std::uint64_t>(documents.cols) + 1);
  return result;
}

}  // namespace limit_eval::sparse
