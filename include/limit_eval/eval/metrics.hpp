#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "limit_eval/data/dataset.hpp"

namespace limit_eval::eval {

struct ScoredDoc {
  std::string doc_id;
  double score = 0.0;
};

// query id -> retrieved documents in any order (the evaluator sorts them the trec_eval way).
using Run = std::unordered_map<std::string, std::vector<ScoredDoc>>;

struct EvalOptions {
  std::vector<int> k_values{2, 10, 20, 100};
  int relevance_level = 1;          // a judgement counts as relevant when relevance >= this
  bool ignore_identical_ids = true; // BEIR: drop retrieved docs whose id equals the query id
};

// Metric name -> value. Names as BEIR writes them: "NDCG@10", "MAP@10", "Recall@10", "P@10",
// "MRR@10".
using MetricValues = std::map<std::string, double>;

struct EvalResult {
  MetricValues mean;                               // averaged over evaluated queries
  std::map<std::string, MetricValues> per_query;   // evaluated query id -> values
  std::size_t evaluated_queries = 0;               // in both run and qrels
  std::size_t run_queries_without_qrels = 0;       // in the run, not in the qrels: not evaluated
  std::size_t qrels_queries_without_run = 0;       // in the qrels, not in the run: not evaluated
  std::size_t identical_ids_dropped = 0;           // retrieved docs dropped by ignore_identical_ids
};

// trec_eval semantics as pytrec_eval 0.5 computes them for BEIR 2.2:
// - per query, documents ranked by score descending, ties by doc id descending (strcmp);
// - NDCG@k = ndcg_cut.k (gain = relevance value, discount log2(rank + 1), ideal from the qrels);
// - MAP@k = map_cut.k, Recall@k = recall.k (both divide by the number of relevant docs);
// - P@k = P.k (divides by k); MRR@k = recip_rank of the first relevant doc within the top k;
// - averaged over queries present in both run and qrels.
EvalResult evaluate(const data::Qrels& qrels, const Run& run, const EvalOptions& options = {});

}  // namespace limit_eval::eval
