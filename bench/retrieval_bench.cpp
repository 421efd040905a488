// InvertedIndex over LIMIT-like sparse vectors: 50,000 documents x 1,000 queries, top 100
// (what `limit-eval` times as timings_s.retrieval: index build + search). Two shapes: query terms
// that only the documents holding the attribute share ("rare"), and the BM25 shape of LIMIT, where
// the query's "like" is a term of every document ("common": every query touches every document).
// BM_InvertedIndexBuild and BM_InvertedIndexSearch index every term; BM_RetrievalStep indexes only
// the queries' terms, as limit-eval does.
#include <benchmark/benchmark.h>

#include <optional>
#include <string_view>
#include <vector>

#include "bench_data.hpp"
#include "limit_eval/sparse/retrieval.hpp"

namespace {

using limit_eval::bench::LimitLikeCollection;
using limit_eval::bench::LimitLikeShape;
using limit_eval::bench::make_limit_like;

// Arg 0 of every benchmark: 0 = rare terms only, 1 = plus a term common to all documents and queries.
const LimitLikeCollection& collection(std::int64_t common) {
  static const LimitLikeCollection rare = make_limit_like(LimitLikeShape{});
  static const LimitLikeCollection with_common = make_limit_like(LimitLikeShape{.common_term = true});
  return common != 0 ? with_common : rare;
}

// Args = (common, threads).
void BM_InvertedIndexBuild(benchmark::State& state) {
  const auto& data = collection(state.range(0));
  const auto threads = static_cast<std::size_t>(state.range(1));
  for (auto _ : state) {
    limit_eval::sparse::InvertedIndex index(data.documents, data.doc_ids, threads);
    benchmark::DoNotOptimize(index.num_terms());
  }
  state.counters["docs"] = data.documents.rows;
  state.counters["nnz"] = static_cast<double>(data.documents.nnz());
  state.SetItemsProcessed(state.iterations() * data.documents.rows);
}
BENCHMARK(BM_InvertedIndexBuild)
    ->ArgNames({"common", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Search only; Args = (common, threads).
void BM_InvertedIndexSearch(benchmark::State& state) {
  const auto& data = collection(state.range(0));
  const limit_eval::sparse::InvertedIndex index(data.documents, data.doc_ids);
  const std::vector<std::optional<std::uint32_t>> exclude(data.queries.rows);
  const auto threads = static_cast<std::size_t>(state.range(1));
  for (auto _ : state) {
    auto hits = index.search(data.queries, 100, threads, &exclude);
    benchmark::DoNotOptimize(hits.data());
  }
  state.counters["queries"] = data.queries.rows;
  state.SetItemsProcessed(state.iterations() * data.queries.rows);
}
BENCHMARK(BM_InvertedIndexSearch)
    ->ArgNames({"common", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The whole retrieval step of a run (index of the queries' terms + search); Args = (common, threads).
void BM_RetrievalStep(benchmark::State& state) {
  const auto& data = collection(state.range(0));
  const std::vector<std::optional<std::uint32_t>> exclude(data.queries.rows);
  const std::vector<std::string_view> doc_ids(data.doc_ids.begin(), data.doc_ids.end());
  const auto threads = static_cast<std::size_t>(state.range(1));
  for (auto _ : state) {
    const limit_eval::sparse::InvertedIndex index(data.documents, doc_ids, data.queries, threads);
    auto hits = index.search(data.queries, 100, threads, &exclude);
    benchmark::DoNotOptimize(hits.data());
  }
  state.SetItemsProcessed(state.iterations() * data.queries.rows);
}
BENCHMARK(BM_RetrievalStep)
    ->ArgNames({"common", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
