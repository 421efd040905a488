#pragma once
// Shared helpers of the Google Benchmark micro-benchmarks (bench/*_bench.cpp): deterministic
// LIMIT-like inputs and the repository paths.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::bench {

// The repository root: $LIMIT_EVAL_SOURCE_DIR, else the folder this file was compiled from.
inline std::filesystem::path source_dir() {
  if (const char* env = std::getenv("LIMIT_EVAL_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
  return LIMIT_EVAL_SOURCE_DIR;
}

// A LIMIT-like sparse collection. LIMIT's documents are "<Name> likes A, B, ... and Z." with 45
// attributes out of 1,848 (about 2,500 distinct word pieces), so every document holds a few unique
// name terms plus ~90 terms of a small shared pool; a query "Who likes X?" holds 2-4 pool terms.
// Pool terms are the columns [0, pool); name terms are spread over [pool, cols).
struct LimitLikeShape {
  std::uint32_t documents = 50000;
  std::uint32_t queries = 1000;
  std::uint32_t cols = 30522;      // vocabulary (BERT's for the neural models)
  std::uint32_t pool = 2500;       // shared attribute terms
  std::uint32_t doc_pool_terms = 90;
  std::uint32_t doc_name_terms = 4;
  std::uint32_t query_terms_min = 2;
  std::uint32_t query_terms_max = 4;
  // LIMIT's queries all read "Who likes X?" and every document "<Name> likes ...": with BM25 the
  // stemmed "like" is a term of every document and every query. When set, column 0 is that term.
  bool common_term = false;
  std::uint64_t seed = 42;
};

struct LimitLikeCollection {
  sparse::CsrMatrix documents;
  sparse::CsrMatrix queries;
  std::vector<std::string> doc_ids;
  std::vector<std::string> query_ids;
};

inline LimitLikeCollection make_limit_like(const LimitLikeShape& shape) {
  std::mt19937_64 rng(shape.seed);
  const auto uniform = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  const std::uint32_t first = shape.common_term ? 1 : 0;  // pool terms are [first, pool)
  const auto pool_term = [&] { return first + uniform(shape.pool - first); };
  const auto weight = [&] { return 0.05F + static_cast<float>(rng() % 1000) / 400.0F; };  // (0, 2.55]
  LimitLikeCollection out;
  std::vector<std::pair<std::uint32_t, float>> entries;
  sparse::CsrBuilder docs(shape.cols);
  docs.reserve(shape.documents, static_cast<std::size_t>(shape.documents) * (shape.doc_pool_terms + shape.doc_name_terms));
  for (std::uint32_t d = 0; d < shape.documents; ++d) {
    entries.clear();
    if (shape.common_term) entries.emplace_back(0U, weight());
    for (std::uint32_t i = 0; i < shape.doc_pool_terms; ++i) entries.emplace_back(pool_term(), weight());
    for (std::uint32_t i = 0; i < shape.doc_name_terms; ++i) {
      entries.emplace_back(shape.pool + uniform(shape.cols - shape.pool), weight());
    }
    docs.add_row(entries);
    out.doc_ids.push_back("Person " + std::to_string(rng() % 1000000000) + " " + std::to_string(d));
  }
  out.documents = std::move(docs).finish();
  sparse::CsrBuilder queries(shape.cols);
  for (std::uint32_t q = 0; q < shape.queries; ++q) {
    entries.clear();
    const std::uint32_t n = shape.query_terms_min + uniform(shape.query_terms_max - shape.query_terms_min + 1);
    if (shape.common_term) entries.emplace_back(0U, weight());
    for (std::uint32_t i = 0; i < n; ++i) entries.emplace_back(pool_term(), weight());
    queries.add_row(entries);
    out.query_ids.push_back("query_" + std::to_string(q));
  }
  out.queries = std::move(queries).finish();
  return out;
}

}  // namespace limit_eval::bench
