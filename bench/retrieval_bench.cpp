// InvertedIndex over LIMIT-like sparse vectors: 50,000 documents x 1,000 queries, top 100
// (what `limit-eval` times as timings_s.retrieval: index build + search).
#include <benchmark/benchmark.h>

#include <optional>

#include "bench_data.hpp"
#include "limit_eval/sparse/retrieval.hpp"

namespace {

using limit_eval::bench::LimitLikeCollection;
using limit_eval::bench::LimitLikeShape;
using limit_eval::bench::make_limit_like;

const LimitLikeCollection& collection() {
  static const LimitLikeCollection data = make_limit_like(LimitLikeShape{});
  return data;
}

void BM_InvertedIndexBuild(benchmark::State& state) {
  const auto& data = collection();
  for (auto _ : state) {
    limit_eval::sparse::InvertedIndex index(data.documents, data.doc_ids);
    benchmark::DoNotOptimize(index.num_terms());
  }
  state.counters["docs"] = data.documents.rows;
  state.counters["nnz"] = static_cast<double>(data.documents.nnz());
  state.SetItemsProcessed(state.iterations() * data.documents.rows);
}
BENCHMARK(BM_InvertedIndexBuild)->Unit(benchmark::kMillisecond)->UseRealTime();

// Search only; Arg = threads.
void BM_InvertedIndexSearch(benchmark::State& state) {
  const auto& data = collection();
  const limit_eval::sparse::InvertedIndex index(data.documents, data.doc_ids);
  const std::vector<std::optional<std::uint32_t>> exclude(data.queries.rows);
  const auto threads = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto hits = index.search(data.queries, 100, threads, &exclude);
    benchmark::DoNotOptimize(hits.data());
  }
  state.counters["queries"] = data.queries.rows;
  state.SetItemsProcessed(state.iterations() * data.queries.rows);
}
BENCHMARK(BM_InvertedIndexSearch)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The whole retrieval step of a run (index build + search), Arg = threads.
void BM_RetrievalStep(benchmark::State& state) {
  const auto& data = collection();
  const std::vector<std::optional<std::uint32_t>> exclude(data.queries.rows);
  const auto threads = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    const limit_eval::sparse::InvertedIndex index(data.documents, data.doc_ids);
    auto hits = index.search(data.queries, 100, threads, &exclude);
    benchmark::DoNotOptimize(hits.data());
  }
  state.SetItemsProcessed(state.iterations() * data.queries.rows);
}
BENCHMARK(BM_RetrievalStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
