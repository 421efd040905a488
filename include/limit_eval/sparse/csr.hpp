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
// drops zeros, so callers may pass entries in any order. Both throw ContractError, in every build,
// for a column past `cols` or a row past 2^32 - 1.
class CsrBuilder {
 public:
  explicit CsrBuilder(std::uint32_t cols);
  void reserve(std::size_t rows, std::size_t nnz);
  void add_row(std::span<const std::pair<std::uint32_t, float>> entries);
  // Appends an already-canonical row (as many values as columns, strictly increasing columns, no
  // zero or NaN value); ContractError otherwise.
  void add_sorted_row(std::span<const std::uint32_t> indices, std::span<const float> values);
  [[nodiscard]] std::uint32_t rows() const { return matrix_.rows; }
  CsrMatrix finish() &&;

 private:
  void check_room_for_a_row() const;
  void check_column(std::uint32_t column) const;
  CsrMatrix matrix_;
  std::vector<std::pair<std::uint32_t, float>> scratch_;
};

// Column-major compressed sparse matrix, each entry's row and value side by side (the inverted
// index's postings: reading one brings the other). Column c holds entries[indptr[c],
// indptr[c + 1]), rows strictly increasing, no value zero.
struct CscMatrix {
  struct Entry {
    std::uint32_t row = 0;
    float value = 0.0F;
  };
  std::uint32_t rows = 0;
  std::uint32_t cols = 0;
  std::vector<std::uint64_t> indptr{0};  // cols + 1 entries
  std::vector<Entry> entries;

  [[nodiscard]] std::size_t nnz() const { return entries.size(); }
  [[nodiscard]] std::span<const Entry> column(std::uint32_t c) const {
    return {entries.data() + indptr[c], entries.data() + indptr[c + 1]};
  }
};

// The same matrix in column-major form. Large matrices are converted by up to `threads` threads
// (0 = all hardware threads), each over its own range of rows; the result does not depend on
// the thread count. keep_columns, when not empty, flags (non-zero) the columns to keep, one entry
// per column (ContractError otherwise): the others come out empty.
CscMatrix to_csc(const CsrMatrix& m, std::size_t threads = 1, std::span<const std::uint8_t> keep_columns = {});

// Transpose (CSR of the transpose).
CsrMatrix transpose(const CsrMatrix& m);

}  // namespace limit_eval::sparse
