#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace limit_eval::sparse {

// Row-major compressed sparse matrix of float32 weights. Within a row, column indices are
// strictly increasing and no stored value is zero.
struct CsrMatrix {
  std::uint32_t rows = 0;
  std::uint32_t cols = 0;
  std::vector<std::uint64_t> indptr{0};  // rows + 1 entries
  std::vector<std::uint32_t> indices;
  std::vector<float> values;

  [[nodiscard]] std::size_t nnz() const { return indices.size(); }
  [[nodiscard]] std::span<const std::uint32_t> row_indices(std::uint32_t r) const {
    return {indices.data() + indptr[r], indices.data() + indptr[r + 1]};
  }
  [[nodiscard]] std::span<const float> row_values(std::uint32_t r) const {
    return {values.data() + indptr[r], values.data() + indptr[r + 1]};
  }
};

// Builds a CsrMatrix row by row. add_row sorts the entries by column, sums duplicate columns and
// drops zeros, so callers may pass entries in any order.
class CsrBuilder {
 public:
  explicit CsrBuilder(std::uint32_t cols);
  void reserve(std::size_t rows, std::size_t nnz);
  void add_row(std::span<const std::pair<std::uint32_t, float>> entries);
  // Appends an already-canonical row (strictly increasing columns, no zeros); asserts it.
  void add_sorted_row(std::span<const std::uint32_t> indices, std::span<const float> values);
  [[nodiscard]] std::uint32_t rows() const { return matrix_.rows; }
  CsrMatrix finish() &&;

 private:
  CsrMatrix matrix_;
  std::vector<std::pair<std::uint32_t, float>> scratch_;
};

// Transpose (CSR of the transpose), used to build the inverted index.
CsrMatrix transpose(const CsrMatrix& m);

}  // namespace limit_eval::sparse
