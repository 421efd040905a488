#include "limit_eval/sparse/csr.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

namespace limit_eval::sparse {

CsrBuilder::CsrBuilder(std::uint32_t cols) { matrix_.cols = cols; }

void CsrBuilder::reserve(std::size_t rows, std::size_t nnz) {
  matrix_.indptr.reserve(rows + 1);
  matrix_.indices.reserve(nnz);
  matrix_.values.reserve(nnz);
}

void CsrBuilder::add_row(std::span<const std::pair<std::uint32_t, float>> entries) {
  scratch_.assign(entries.begin(), entries.end());
  std::sort(scratch_.begin(), scratch_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < scratch_.size();) {
    const std::uint32_t column = scratch_[i].first;
    assert(column < matrix_.cols);
    float sum = 0.0F;
    for (; i < scratch_.size() && scratch_[i].first == column; ++i) sum += scratch_[i].second;
    if (sum != 0.0F) {
      matrix_.indices.push_back(column);
      matrix_.values.push_back(sum);
    }
  }
  assert(matrix_.rows < std::numeric_limits<std::uint32_t>::max());
  ++matrix_.rows;
  matrix_.indptr.push_back(matrix_.indices.size());
}

void CsrBuilder::add_sorted_row(std::span<const std::uint32_t> indices, std::span<const float> values) {
  assert(indices.size() == values.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    assert(indices[i] < matrix_.cols);
    assert(i == 0 || indices[i - 1] < indices[i]);
    assert(values[i] != 0.0F);
  }
  matrix_.indices.insert(matrix_.indices.end(), indices.begin(), indices.end());
  matrix_.values.insert(matrix_.values.end(), values.begin(), values.end());
  ++matrix_.rows;
  matrix_.indptr.push_back(matrix_.indices.size());
}

CsrMatrix CsrBuilder::finish() && { return std::move(matrix_); }

CsrMatrix transpose(const CsrMatrix& m) {
  CsrMatrix t;
  t.rows = m.cols;
  t.cols = m.rows;
  t.indptr.assign(static_cast<std::size_t>(t.rows) + 1, 0);
  for (const std::uint32_t column : m.indices) ++t.indptr[column + 1];
  for (std::uint32_t r = 0; r < t.rows; ++r) t.indptr[r + 1] += t.indptr[r];
  t.indices.resize(m.nnz());
  t.values.resize(m.nnz());
  std::vector<std::uint64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  // Rows of m are visited in order, so each row of t receives increasing column indices.
  for (std::uint32_t r = 0; r < m.rows; ++r) {
    for (std::uint64_t p = m.indptr[r]; p < m.indptr[r + 1]; ++p) {
      const std::uint64_t slot = next[m.indices[p]]++;
      t.indices[slot] = r;
      t.values[slot] = m.values[p];
    }
  }
  return t;
}

}  // namespace limit_eval::sparse
