#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "limit_eval/data/dataset.hpp"
#include "limit_eval/sparse/retrieval.hpp"

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
  MetricValues mean;                               // averaged over evaluated queries (0 when none)
  std::map<std::string, MetricValues> per_query;   // evaluated query id -> values
  std::size_t evaluated_queries = 0;               // in both run and qrels
  std::size_t run_queries_without_qrels = 0;       // in the run, not in the qrels: not evaluated
  std::size_t qrels_queries_without_run = 0;       // in the qrels, not in the run: not evaluated
  std::size_t identical_ids_dropped = 0;           // retrieved docs dropped by ignore_identical_ids,
                                                   // counted over all run queries (as BEIR pops them)
};

// trec_eval semantics as pytrec_eval 0.5 computes them for BEIR 2.2:
// - per query, documents ranked by score descending, ties by doc id descending (strcmp);
// - NDCG@k = ndcg_cut.k (gain = relevance value, discount log2(rank + 1), ideal from the qrels);
// - MAP@k = map_cut.k, Recall@k = recall.k (both divide by the number of relevant docs);
// - P@k = P.k (divides by k); MRR@k = recip_rank of the first relevant doc within the top k;
// - averaged over queries present in both run and qrels.
// The NDCG gain is the judgement value whenever it is positive, even below relevance_level
// (trec_eval's ndcg ignores the level); zero and negative judgements have no gain, are never
// relevant and are left out of the ideal ranking. A query with judgements but none relevant
// scores 0 everywhere, as in pytrec_eval; so does a query with an empty judgement map (pytrec_eval
// reads uninitialised memory there and returns garbage).
// Throws UsageError for k <= 0 or relevance_level < 1 (pytrec_eval rejects it too), and DataError
// for a NaN score or a doc id retrieved twice for one query (a dict in pytrec_eval, so impossible
// there).
EvalResult evaluate(const data::Qrels& qrels, const Run& run, const EvalOptions& options = {});

// evaluate() of retrieval output as InvertedIndex::search returns it, without a string-keyed Run:
// hits[q] are the documents retrieved for query_ids[q], as rows of doc_ids, already in trec_eval
// rank order (score descending, ties by doc id descending). The result, counts included, equals
// evaluate() of the Run {query_ids[q]: [(doc_ids[hit.doc], hit.score), ...]}, and so do the
// errors (when several queries are invalid, any one of them may be reported). The ids must be
// distinct, as a corpus's and a Run's keys are (DataError when two evaluated query ids are not).
// ContractError, in every build, when hits and query_ids differ in number, a hit's row is past
// doc_ids, or a query's hits (after the identical-id exclusion) are not in that rank order.
// Queries are evaluated by up to `threads` threads (0 = all hardware threads).
EvalResult evaluate_ranked(const data::Qrels& qrels, std::span<const std::string_view> query_ids,
                           std::span<const std::string_view> doc_ids, const std::vector<std::vector<sparse::Hit>>& hits,
                           const EvalOptions& options = {}, std::size_t threads = 1);

// trec_eval's rank order (form_res_rels): higher score first, equal scores by doc id descending in
// strcmp (unsigned byte) order. A strict weak order for scores that are not NaN.
[[nodiscard]] bool ranks_before(const ScoredDoc& a, const ScoredDoc& b) noexcept;

// Positions of `docs` in trec_eval rank order. Throws DataError naming the query on a NaN score or
// a duplicate doc id.
std::vector<std::size_t> rank_order(std::string_view query_id, const std::vector<ScoredDoc>& docs);

}  // namespace limit_eval::eval
