#pragma once

// What sparse vectors cost: active dimensions, sparsity, FLOPS, postings and index size.
// Torch-free; computed from the CSR matrices a run encodes.

#include <cstddef>
#include <cstdint>

#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::sparse {

// Active (non-zero) dimensions per vector. mean and sparsity_ratio are what sentence-transformers'
// SparseEncoder.sparsity reports (mean of the non-zero counts; mean of 1 - count / dimensions);
// median and p99 are numpy's (linear interpolation between order statistics).
struct ActiveDimensions {
  std::uint64_t vectors = 0;
  double mean = 0.0;
  double median = 0.0;
  double p99 = 0.0;
  std::uint64_t max = 0;
  double sparsity_ratio = 0.0;
};

struct Efficiency {
  std::uint64_t dimensions = 0;  // columns of the vectors (vocabulary size)
  ActiveDimensions documents;
  ActiveDimensions queries;
  // Expected multiply-adds of one query-document dot product (Paria et al. 2020; the l0 paper):
  // sum over dimensions j of (fraction of queries using j) x (fraction of documents using j).
  double flops = 0.0;
  // Postings an exhaustive term-at-a-time search reads per query, on average: sum over the query's
  // dimensions of their document frequency (= flops x documents). Pruning reads fewer.
  double postings_per_query = 0.0;
  // Bytes of the inverted index of the documents: 8 per posting (document row, float32 weight) and
  // 8 per dimension for the posting-list offsets.
  std::uint64_t index_bytes = 0;
};

// Active dimensions of every row of `vectors` (over `vectors.cols` dimensions).
ActiveDimensions active_dimensions(const CsrMatrix& vectors);

// The efficiency of retrieving `queries` from `documents`. Error when their column counts differ
// (an internal inconsistency: one encoder writes both).
Efficiency measure_efficiency(const CsrMatrix& documents, const CsrMatrix& queries);

}  // namespace limit_eval::sparse
