// trec_eval measures as pytrec_eval (pytrec-eval-terrier 0.5.7) computes them for BEIR 2.2.
//
// Each value is accumulated in the same order and with the same arithmetic as trec_eval's
// m_P.c, m_recall.c, m_map_cut.c, m_ndcg_cut.c and m_recip_rank.c, so that results agree to the
// last bit in the common case, not merely to a tolerance:
// - ranking (form_res_rels.c): score descending, then doc id descending by strcmp;
// - relevant: judged with a value >= relevance_level; docs absent from the qrels are not relevant;
// - P@k = relevant in top k / k (missing ranks count as non-relevant);
// - Recall@k = relevant in top k / relevant judged; MAP@k = sum over relevant docs in the top k
//   of precision at their rank / relevant judged; both 0 when nothing is relevant;
// - NDCG@k: DCG = sum of gain / log2(rank + 1) over the top k, gain = judged value when positive;
//   the ideal DCG ranks every positive judgement of the query by value; 0 when the ideal is 0;
// - MRR@k = 1 / rank of the first relevant doc if it lies in the top k, else 0.

#include "limit_eval/eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::eval {

bool ranks_before(const ScoredDoc& a, const ScoredDoc& b) noexcept {
  if (a.score != b.score) return a.score > b.score;
  // std::string compares bytes as unsigned char, which is strcmp's order for ids without NUL.
  return a.doc_id > b.doc_id;
}

namespace {

// Rejects what would make the ranking undefined: NaN has no place in the order, and a doc retrieved
// twice cannot be ranked once (trec_eval refuses such a query too).
void check_rankable(std::string_view query_id, const std::vector<ScoredDoc>& docs,
                    const std::vector<std::size_t>& positions, std::vector<std::string_view>& id_scratch) {
  id_scratch.clear();
  for (const std::size_t position : positions) {
    const ScoredDoc& doc = docs[position];
    if (std::isnan(doc.score)) {
      throw Error(fmt::format("run of query '{}': document '{}' has a NaN score", query_id, doc.doc_id));
    }
    id_scratch.emplace_back(doc.doc_id);
  }
  std::sort(id_scratch.begin(), id_scratch.end());
  const auto duplicate = std::adjacent_find(id_scratch.begin(), id_scratch.end());
  if (duplicate != id_scratch.end()) {
    throw Error(fmt::format("run of query '{}': document '{}' is retrieved more than once", query_id, *duplicate));
  }
}

void sort_in_rank_order(const std::vector<ScoredDoc>& docs, std::vector<std::size_t>& positions) {
  std::sort(positions.begin(), positions.end(),
            [&docs](std::size_t a, std::size_t b) { return ranks_before(docs[a], docs[b]); });
}

struct MetricNames {
  std::string ndcg;
  std::string map;
  std::string recall;
  std::string precision;
  std::string mrr;
};

MetricNames metric_names(int k) {
  return {fmt::format("NDCG@{}", k), fmt::format("MAP@{}", k), fmt::format("Recall@{}", k), fmt::format("P@{}", k),
          fmt::format("MRR@{}", k)};
}

// Running sums over one query's ranking: entry m holds the value over the first m documents.
// Kept across queries to avoid reallocating.
struct QueryScratch {
  std::vector<std::size_t> positions;
  std::vector<std::string_view> ids;
  std::vector<std::size_t> relevant_prefix;
  std::vector<double> precision_sum_prefix;  // sum of precision at each relevant rank (map_cut)
  std::vector<double> dcg_prefix;
  std::vector<int> ideal_gains;
  std::vector<double> ideal_dcg_prefix;
};

double discounted(double gain, std::size_t zero_based_rank) {
  return gain / std::log2(static_cast<double>(zero_based_rank + 2));
}

MetricValues evaluate_query(const std::vector<ScoredDoc>& docs, const std::unordered_map<std::string, int>& judgements,
                            const std::vector<int>& cutoffs, const std::vector<MetricNames>& names,
                            int relevance_level, QueryScratch& scratch) {
  const std::size_t max_cutoff = static_cast<std::size_t>(cutoffs.back());
  const std::size_t depth = std::min(scratch.positions.size(), max_cutoff);

  scratch.relevant_prefix.assign(depth + 1, 0);
  scratch.precision_sum_prefix.assign(depth + 1, 0.0);
  scratch.dcg_prefix.assign(depth + 1, 0.0);
  std::size_t first_relevant_rank = 0;  // 1-based; 0: none within the depth
  for (std::size_t i = 0; i < depth; ++i) {
    std::size_t relevant_so_far = scratch.relevant_prefix[i];
    double precision_sum = scratch.precision_sum_prefix[i];
    double dcg = scratch.dcg_prefix[i];
    const auto judged = judgements.find(docs[scratch.positions[i]].doc_id);
    if (judged != judgements.end()) {
      const int value = judged->second;
      if (value >= relevance_level) {
        ++relevant_so_far;
        precision_sum += static_cast<double>(relevant_so_far) / static_cast<double>(i + 1);
        if (first_relevant_rank == 0) first_relevant_rank = i + 1;
      }
      if (value > 0) dcg += discounted(static_cast<double>(value), i);
    }
    scratch.relevant_prefix[i + 1] = relevant_so_far;
    scratch.precision_sum_prefix[i + 1] = precision_sum;
    scratch.dcg_prefix[i + 1] = dcg;
  }

  std::size_t relevant_judged = 0;
  scratch.ideal_gains.clear();
  for (const auto& [doc_id, value] : judgements) {
    if (value >= relevance_level) ++relevant_judged;
    if (value > 0) scratch.ideal_gains.push_back(value);
  }
  const std::size_t ideal_depth = std::min(scratch.ideal_gains.size(), max_cutoff);
  std::partial_sort(scratch.ideal_gains.begin(), scratch.ideal_gains.begin() + static_cast<std::ptrdiff_t>(ideal_depth),
                    scratch.ideal_gains.end(), std::greater<>());
  scratch.ideal_dcg_prefix.assign(ideal_depth + 1, 0.0);
  for (std::size_t i = 0; i < ideal_depth; ++i) {
    scratch.ideal_dcg_prefix[i + 1] =
        scratch.ideal_dcg_prefix[i] + discounted(static_cast<double>(scratch.ideal_gains[i]), i);
  }

  MetricValues values;
  for (std::size_t c = 0; c < cutoffs.size(); ++c) {
    const auto k = static_cast<std::size_t>(cutoffs[c]);
    const std::size_t ranked = std::min(k, depth);
    const double relevant_in_top = static_cast<double>(scratch.relevant_prefix[ranked]);
    const double ideal_dcg = scratch.ideal_dcg_prefix[std::min(k, ideal_depth)];
    const MetricNames& name = names[c];
    values.emplace(name.precision, relevant_in_top / static_cast<double>(k));
    values.emplace(name.recall, relevant_judged > 0 ? relevant_in_top / static_cast<double>(relevant_judged) : 0.0);
    values.emplace(name.map, relevant_judged > 0
                                 ? scratch.precision_sum_prefix[ranked] / static_cast<double>(relevant_judged)
                                 : 0.0);
    values.emplace(name.ndcg, ideal_dcg > 0.0 ? scratch.dcg_prefix[ranked] / ideal_dcg : 0.0);
    values.emplace(name.mrr, first_relevant_rank != 0 && first_relevant_rank <= k
                                 ? 1.0 / static_cast<double>(first_relevant_rank)
                                 : 0.0);
  }
  return values;
}

}  // namespace

std::vector<std::size_t> rank_order(std::string_view query_id, const std::vector<ScoredDoc>& docs) {
  std::vector<std::size_t> positions(docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) positions[i] = i;
  std::vector<std::string_view> id_scratch;
  check_rankable(query_id, docs, positions, id_scratch);
  sort_in_rank_order(docs, positions);
  return positions;
}

EvalResult evaluate(const data::Qrels& qrels, const Run& run, const EvalOptions& options) {
  if (options.k_values.empty()) throw UsageError("no cutoff k given for the metrics");
  for (const int k : options.k_values) {
    if (k <= 0) throw UsageError(fmt::format("metric cutoff k must be positive, got {}", k));
  }
  if (options.relevance_level < 1) {
    throw UsageError(fmt::format("relevance level must be at least 1, got {}", options.relevance_level));
  }
  std::vector<int> cutoffs = options.k_values;
  std::sort(cutoffs.begin(), cutoffs.end());
  cutoffs.erase(std::unique(cutoffs.begin(), cutoffs.end()), cutoffs.end());
  std::vector<MetricNames> names;
  names.reserve(cutoffs.size());
  for (const int k : cutoffs) names.push_back(metric_names(k));

  EvalResult result;
  QueryScratch scratch;
  for (const auto& [query_id, docs] : run) {
    scratch.positions.clear();
    for (std::size_t i = 0; i < docs.size(); ++i) {
      if (options.ignore_identical_ids && docs[i].doc_id == query_id) {
        ++result.identical_ids_dropped;
      } else {
        scratch.positions.push_back(i);
      }
    }
    const auto judgements = qrels.find(query_id);
    if (judgements == qrels.end()) {
      ++result.run_queries_without_qrels;
      continue;
    }
    check_rankable(query_id, docs, scratch.positions, scratch.ids);
    sort_in_rank_order(docs, scratch.positions);
    result.per_query.emplace(query_id, evaluate_query(docs, judgements->second, cutoffs, names,
                                                      options.relevance_level, scratch));
  }
  for (const auto& [query_id, judgements] : qrels) {
    if (!run.contains(query_id)) ++result.qrels_queries_without_run;
  }
  result.evaluated_queries = result.per_query.size();

  // BEIR's mean: plain sum over the evaluated queries divided by their number.
  for (const MetricNames& name : names) {
    for (const std::string* key : {&name.ndcg, &name.map, &name.recall, &name.precision, &name.mrr}) {
      result.mean.emplace(*key, 0.0);
    }
  }
  for (const auto& [query_id, values] : result.per_query) {
    for (const auto& [name, value] : values) result.mean[name] += value;
  }
  if (result.evaluated_queries > 0) {
    for (auto& [name, total] : result.mean) total /= static_cast<double>(result.evaluated_queries);
  }
  return result;
}

}  // namespace limit_eval::eval
