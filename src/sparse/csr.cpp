#include "limit_eval/sparse/csr.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/parallel.hpp"

namespace limit_eval::sparse {

CsrBuilder::CsrBuilder(std::uint32_t cols) { matrix_.cols = cols; }

void CsrBuilder::check_room_for_a_row() const {
  if (matrix_.rows == std::numeric_limits<std::uint32_t>::max()) {
    throw ContractError(fmt::format("CsrBuilder: a matrix holds at most {} rows", matrix_.rows));
  }
}

void CsrBuilder::check_column(std::uint32_t column) const {
  if (column >= matrix_.cols) {
    throw ContractError(fmt::format("CsrBuilder: row {} has column {}, past the matrix's {} columns", matrix_.rows,
                                    column, matrix_.cols));
  }
}

void CsrBuilder::reserve(std::size_t rows, std::size_t nnz) {
  matrix_.indptr.reserve(rows + 1);
  matrix_.indices.reserve(nnz);
  matrix_.values.reserve(nnz);
}

void CsrBuilder::add_row(std::span<const std::pair<std::uint32_t, float>> entries) {
  scratch_.assign(entries.begin(), entries.end());
  std::sort(scratch_.begin(), scratch_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Checked before the matrix changes: a refused row leaves it as it was.
  check_room_for_a_row();
  if (!scratch_.empty()) check_column(scratch_.back().first);
  for (std::size_t i = 0; i < scratch_.size();) {
    const std::uint32_t column = scratch_[i].first;
    float sum = 0.0F;
    for (; i < scratch_.size() && scratch_[i].first == column; ++i) sum += scratch_[i].second;
    if (sum != 0.0F) {
      matrix_.indices.push_back(column);
      matrix_.values.push_back(sum);
    }
  }
  ++matrix_.rows;
  matrix_.indptr.push_back(matrix_.indices.size());
}

void CsrBuilder::add_sorted_row(std::span<const std::uint32_t> indices, std::span<const float> values) {
  if (indices.size() != values.size()) {
    throw ContractError(
        fmt::format("CsrBuilder: row {} has {} columns but {} values", matrix_.rows, indices.size(), values.size()));
  }
  check_room_for_a_row();
  for (std::size_t i = 0; i < indices.size(); ++i) {
    check_column(indices[i]);
    if (i > 0 && indices[i - 1] >= indices[i]) {
      throw ContractError(fmt::format("CsrBuilder: row {} has column {} after column {} (not strictly ascending)",
                                      matrix_.rows, indices[i], indices[i - 1]));
    }
    if (values[i] == 0.0F || std::isnan(values[i])) {
      throw ContractError(
          fmt::format("CsrBuilder: row {} has the value {} at column {}", matrix_.rows, values[i], indices[i]));
    }
  }
  matrix_.indices.insert(matrix_.indices.end(), indices.begin(), indices.end());
  matrix_.values.insert(matrix_.values.end(), values.begin(), values.end());
  ++matrix_.rows;
  matrix_.indptr.push_back(matrix_.indices.size());
}

CsrMatrix CsrBuilder::finish() && { return std::move(matrix_); }

namespace {

// Below this many non-zeros per thread, starting threads costs more than it saves.
constexpr std::size_t kMinNnzPerThread = 1U << 16;
constexpr std::size_t kEntriesPerCacheLine = 64 / sizeof(CscMatrix::Entry);

}  // namespace

CscMatrix to_csc(const CsrMatrix& m, std::size_t threads, std::span<const std::uint8_t> keep_columns) {
  if (!keep_columns.empty() && keep_columns.size() != m.cols) {
    throw ContractError(fmt::format("to_csc: {} column flags for a matrix of {} columns", keep_columns.size(), m.cols));
  }
  CscMatrix csc;
  csc.rows = m.rows;
  csc.cols = m.cols;
  const std::size_t parts = std::clamp<std::size_t>(m.nnz() / kMinNnzPerThread, 1, resolve_threads(threads));
  // Part p holds the rows [first_row[p], first_row[p + 1]) of m, about nnz / parts entries.
  std::vector<std::uint32_t> first_row(parts + 1, m.rows);
  first_row[0] = 0;
  for (std::size_t p = 1; p < parts; ++p) {
    const std::uint64_t target = m.nnz() * p / parts;
    first_row[p] = static_cast<std::uint32_t>(
        std::lower_bound(m.indptr.begin(), m.indptr.end() - 1, target) - m.indptr.begin());
  }
  // Counting sort: each part counts its entries per column, then writes them from its own
  // cursor in every column. Parts follow each other in row order, so rows increase in a column.
  std::vector<std::vector<std::uint64_t>> cursors(parts);
  parallel_for(parts, parts, [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      cursors[p].assign(m.cols, 0);
      const std::uint64_t last = m.indptr[first_row[p + 1]];
      for (std::uint64_t i = m.indptr[first_row[p]]; i < last; ++i) ++cursors[p][m.indices[i]];
    }
  });
  // The entries of a column not kept all go to a slot past the end (one per part, a cache line
  // apart), their cursor never advancing: the scatter loop needs no branch.
  std::vector<std::uint8_t> step(m.cols, 1);
  if (!keep_columns.empty()) {
    for (std::uint32_t column = 0; column < m.cols; ++column) step[column] = keep_columns[column] != 0 ? 1 : 0;
  }
  csc.indptr.resize(static_cast<std::size_t>(m.cols) + 1);
  std::uint64_t filled = 0;
  for (std::uint32_t column = 0; column < m.cols; ++column) {
    csc.indptr[column] = filled;
    if (step[column] == 0) continue;
    for (auto& cursor : cursors) {
      const std::uint64_t count = cursor[column];
      cursor[column] = filled;
      filled += count;
    }
  }
  csc.indptr[m.cols] = filled;
  for (std::uint32_t column = 0; column < m.cols; ++column) {
    if (step[column] != 0) continue;
    for (std::size_t p = 0; p < parts; ++p) cursors[p][column] = filled + p * kEntriesPerCacheLine;
  }
  csc.entries.resize(filled + parts * kEntriesPerCacheLine);
  parallel_for(parts, parts, [&](std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      std::uint64_t* const cursor = cursors[p].data();
      for (std::uint32_t r = first_row[p]; r < first_row[p + 1]; ++r) {
        for (std::uint64_t i = m.indptr[r]; i < m.indptr[r + 1]; ++i) {
          const std::uint32_t column = m.indices[i];
          csc.entries[cursor[column]] = {r, m.values[i]};
          cursor[column] += step[column];
        }
      }
    }
  });
  csc.entries.resize(filled);
  return csc;
}

CsrMatrix transpose(const CsrMatrix& m) {
  const CscMatrix csc = to_csc(m);
  CsrMatrix t;
  t.rows = m.cols;
  t.cols = m.rows;
  t.indptr = csc.indptr;
  t.indices.reserve(csc.nnz());
  t.values.reserve(csc.nnz());
  for (const auto& entry : csc.entries) {
    t.indices.push_back(entry.row);
    t.values.push_back(entry.value);
  }
  return t;
}

}  // namespace limit_eval::sparse
