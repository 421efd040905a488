// trec_eval/BEIR metrics at k = 2, 10, 20, 100 on 1,000 queries x 100 retrieved documents of a
// 50,000-document corpus with LIMIT's qrels shape (2 relevant documents per query).
// BM_EvaluationStep is what `limit-eval` times as timings_s.evaluation: eval::evaluate_ranked on
// the hits as the index returns them (document rows in rank order). BM_BuildRun + BM_Evaluate is
// the string-keyed path (`limit-eval evaluate` on a run file; the run is built only for --run-file).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/sparse/retrieval.hpp"

namespace {

struct Inputs {
  limit_eval::data::Qrels qrels;
  std::vector<std::string> doc_ids;
  std::vector<std::string> query_ids;
  std::vector<std::vector<std::pair<std::uint32_t, float>>> hits;  // per query: (doc row, score)
  std::vector<std::string_view> doc_id_views;
  std::vector<std::string_view> query_id_views;
  std::vector<std::vector<limit_eval::sparse::Hit>> ranked_hits;  // the hits in trec_eval order
};

const Inputs& inputs() {
  static const Inputs data = [] {
    Inputs in;
    std::mt19937_64 rng(7);
    constexpr std::uint32_t docs = 50000, queries = 1000, depth = 100;
    for (std::uint32_t d = 0; d < docs; ++d) in.doc_ids.push_back("Person " + std::to_string(rng() % 100000000));
    for (std::uint32_t d = 0; d < docs; ++d) in.doc_ids[d] += " " + std::to_string(d);  // unique
    for (std::uint32_t q = 0; q < queries; ++q) {
      in.query_ids.push_back("query_" + std::to_string(q));
      auto& judged = in.qrels[in.query_ids.back()];
      judged[in.doc_ids[rng() % docs]] = 1;
      judged[in.doc_ids[rng() % docs]] = 1;
      std::vector<std::pair<std::uint32_t, float>> list;
      // Half the queries find a relevant document near the top, as a decent retriever does.
      if (q % 2 == 0) list.emplace_back(0U, 0.0F);
      while (list.size() < depth) list.emplace_back(static_cast<std::uint32_t>(rng() % docs), 0.0F);
      if (q % 2 == 0) list[0].first = static_cast<std::uint32_t>(
                          std::distance(in.doc_ids.begin(),
                                        std::find(in.doc_ids.begin(), in.doc_ids.end(), judged.begin()->first)));
      // Distinct docs, descending scores with some ties.
      std::sort(list.begin(), list.end());
      list.erase(std::unique(list.begin(), list.end(), [](auto& a, auto& b) { return a.first == b.first; }),
                 list.end());
      for (std::size_t i = 0; i < list.size(); ++i) list[i].second = static_cast<float>((depth - i) / 4);
      in.hits.push_back(std::move(list));
    }
    in.doc_id_views.assign(in.doc_ids.begin(), in.doc_ids.end());
    in.query_id_views.assign(in.query_ids.begin(), in.query_ids.end());
    for (const auto& list : in.hits) {
      auto& ranked = in.ranked_hits.emplace_back();
      for (const auto& [doc, score] : list) ranked.push_back({doc, score});
      std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
        return a.score != b.score ? a.score > b.score : in.doc_ids[a.doc] > in.doc_ids[b.doc];
      });
    }
    return in;
  }();
  return data;
}

limit_eval::eval::Run make_run(const Inputs& in) {
  limit_eval::eval::Run run;
  run.reserve(in.hits.size());
  for (std::size_t q = 0; q < in.hits.size(); ++q) {
    auto& ranked = run[in.query_ids[q]];
    ranked.reserve(in.hits[q].size());
    for (const auto& [doc, score] : in.hits[q]) ranked.push_back({in.doc_ids[doc], static_cast<double>(score)});
  }
  return run;
}

void BM_BuildRun(benchmark::State& state) {
  const auto& in = inputs();
  for (auto _ : state) {
    auto run = make_run(in);
    benchmark::DoNotOptimize(run.size());
  }
  state.SetItemsProcessed(state.iterations() * in.hits.size());
}
BENCHMARK(BM_BuildRun)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Evaluate(benchmark::State& state) {
  const auto& in = inputs();
  const auto run = make_run(in);
  const limit_eval::eval::EvalOptions options;
  for (auto _ : state) {
    auto result = limit_eval::eval::evaluate(in.qrels, run, options);
    benchmark::DoNotOptimize(result.evaluated_queries);
  }
  state.SetItemsProcessed(state.iterations() * in.hits.size());
}
BENCHMARK(BM_Evaluate)->Unit(benchmark::kMillisecond)->UseRealTime();

// What limit-eval's evaluation step costs: the metrics of the ranked hits, ids as corpus rows;
// Arg = threads.
void BM_EvaluationStep(benchmark::State& state) {
  const auto& in = inputs();
  const limit_eval::eval::EvalOptions options;
  const auto threads = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto result = limit_eval::eval::evaluate_ranked(in.qrels, in.query_id_views, in.doc_id_views, in.ranked_hits,
                                                    options, threads);
    benchmark::DoNotOptimize(result.evaluated_queries);
  }
  state.SetItemsProcessed(state.iterations() * in.hits.size());
}
BENCHMARK(BM_EvaluationStep)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
