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
#include <cassert>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/id_lookup.hpp"
#include "limit_eval/core/parallel.hpp"

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
      throw DataError(fmt::format("run of query '{}': document '{}' has a NaN score", query_id, doc.doc_id));
    }
    id_scratch.emplace_back(doc.doc_id);
  }
  std::sort(id_scratch.begin(), id_scratch.end());
  const auto duplicate = std::adjacent_find(id_scratch.begin(), id_scratch.end());
  if (duplicate != id_scratch.end()) {
    throw DataError(fmt::format("run of query '{}': document '{}' is retrieved more than once", query_id, *duplicate));
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

// What the options ask for: the cut-offs k, ascending and distinct, with their metric names, and
// the relevance level; throws UsageError on invalid options.
struct MetricPlan {
  enum class Metric : std::size_t { ndcg, map, recall, precision, mrr, count };

  std::vector<int> k_values;
  std::vector<std::pair<std::string, std::size_t>> names_in_order;  // (name, slot) as MetricValues orders them
  int relevance_level = 1;

  explicit MetricPlan(const EvalOptions& options)
      : k_values(options.k_values), relevance_level(options.relevance_level) {
    if (k_values.empty()) throw UsageError("no cutoff k given for the metrics");
    for (const int k : k_values) {
      if (k <= 0) throw UsageError(fmt::format("metric cutoff k must be positive, got {}", k));
    }
    if (relevance_level < 1) {
      throw UsageError(fmt::format("relevance level must be at least 1, got {}", relevance_level));
    }
    std::sort(k_values.begin(), k_values.end());
    k_values.erase(std::unique(k_values.begin(), k_values.end()), k_values.end());
    for (std::size_t c = 0; c < k_values.size(); ++c) {
      MetricNames names = metric_names(k_values[c]);
      names_in_order.emplace_back(std::move(names.ndcg), slot(c, Metric::ndcg));
      names_in_order.emplace_back(std::move(names.map), slot(c, Metric::map));
      names_in_order.emplace_back(std::move(names.recall), slot(c, Metric::recall));
      names_in_order.emplace_back(std::move(names.precision), slot(c, Metric::precision));
      names_in_order.emplace_back(std::move(names.mrr), slot(c, Metric::mrr));
    }
    std::sort(names_in_order.begin(), names_in_order.end());
  }

  // Position of metric `metric` at cut-off index c in a query's flat array of values.
  [[nodiscard]] static std::size_t slot(std::size_t c, Metric metric) {
    return c * static_cast<std::size_t>(Metric::count) + static_cast<std::size_t>(metric);
  }
  [[nodiscard]] std::size_t max_depth() const { return static_cast<std::size_t>(k_values.back()); }
};

// One query's inputs, filled by the caller, and running sums over its ranking (entry m holds
// the value over the first m documents). Kept across queries to avoid reallocating.
struct QueryScratch {
  std::vector<int> ranked_values;      // judgement value of each ranked doc up to max_depth; 0: unjudged
  std::vector<int> judgement_values;   // the values of all the query's judgements
  std::vector<std::size_t> positions;
  std::vector<std::string_view> ids;
  std::vector<std::size_t> relevant_prefix;
  std::vector<double> precision_sum_prefix;  // sum of precision at each relevant rank (map_cut)
  std::vector<double> dcg_prefix;
  std::vector<int> ideal_gains;
  std::vector<double> ideal_dcg_prefix;
  std::vector<double> values;  // by MetricPlan::slot
};

double discounted(double gain, std::size_t zero_based_rank) {
  return gain / std::log2(static_cast<double>(zero_based_rank + 2));
}

// An unjudged document counts as a judgement of 0: neither is relevant (relevance_level >= 1) nor
// has gain.
MetricValues evaluate_query(const MetricPlan& plan, QueryScratch& scratch) {
  const std::size_t depth = scratch.ranked_values.size();
  assert(depth <= plan.max_depth());

  scratch.relevant_prefix.assign(depth + 1, 0);
  scratch.precision_sum_prefix.assign(depth + 1, 0.0);
  scratch.dcg_prefix.assign(depth + 1, 0.0);
  std::size_t first_relevant_rank = 0;  // 1-based; 0: none within the depth
  for (std::size_t i = 0; i < depth; ++i) {
    std::size_t relevant_so_far = scratch.relevant_prefix[i];
    double precision_sum = scratch.precision_sum_prefix[i];
    double dcg = scratch.dcg_prefix[i];
    const int value = scratch.ranked_values[i];
    if (value >= plan.relevance_level) {
      ++relevant_so_far;
      precision_sum += static_cast<double>(relevant_so_far) / static_cast<double>(i + 1);
      if (first_relevant_rank == 0) first_relevant_rank = i + 1;
    }
    if (value > 0) dcg += discounted(static_cast<double>(value), i);
    scratch.relevant_prefix[i + 1] = relevant_so_far;
    scratch.precision_sum_prefix[i + 1] = precision_sum;
    scratch.dcg_prefix[i + 1] = dcg;
  }

  std::size_t relevant_judged = 0;
  scratch.ideal_gains.clear();
  for (const int value : scratch.judgement_values) {
    if (value >= plan.relevance_level) ++relevant_judged;
    if (value > 0) scratch.ideal_gains.push_back(value);
  }
  const std::size_t ideal_depth = std::min(scratch.ideal_gains.size(), plan.max_depth());
  std::partial_sort(scratch.ideal_gains.begin(), scratch.ideal_gains.begin() + static_cast<std::ptrdiff_t>(ideal_depth),
                    scratch.ideal_gains.end(), std::greater<>());
  scratch.ideal_dcg_prefix.assign(ideal_depth + 1, 0.0);
  for (std::size_t i = 0; i < ideal_depth; ++i) {
    scratch.ideal_dcg_prefix[i + 1] =
        scratch.ideal_dcg_prefix[i] + discounted(static_cast<double>(scratch.ideal_gains[i]), i);
  }

  using Metric = MetricPlan::Metric;
  scratch.values.resize(plan.names_in_order.size());
  for (std::size_t c = 0; c < plan.k_values.size(); ++c) {
    const auto k = static_cast<std::size_t>(plan.k_values[c]);
    const std::size_t ranked = std::min(k, depth);
    const double relevant_in_top = static_cast<double>(scratch.relevant_prefix[ranked]);
    const double ideal_dcg = scratch.ideal_dcg_prefix[std::min(k, ideal_depth)];
    scratch.values[MetricPlan::slot(c, Metric::precision)] = relevant_in_top / static_cast<double>(k);
    scratch.values[MetricPlan::slot(c, Metric::recall)] =
        relevant_judged > 0 ? relevant_in_top / static_cast<double>(relevant_judged) : 0.0;
    scratch.values[MetricPlan::slot(c, Metric::map)] =
        relevant_judged > 0 ? scratch.precision_sum_prefix[ranked] / static_cast<double>(relevant_judged) : 0.0;
    scratch.values[MetricPlan::slot(c, Metric::ndcg)] = ideal_dcg > 0.0 ? scratch.dcg_prefix[ranked] / ideal_dcg : 0.0;
    scratch.values[MetricPlan::slot(c, Metric::mrr)] =
        first_relevant_rank != 0 && first_relevant_rank <= k ? 1.0 / static_cast<double>(first_relevant_rank) : 0.0;
  }
  // Inserted in the map's order, each at its end: no key comparisons.
  MetricValues values;
  for (const auto& [name, slot] : plan.names_in_order) values.emplace_hint(values.end(), name, scratch.values[slot]);
  return values;
}

// The mean over the evaluated queries, summed in query id order with Neumaier's compensated
// summation and divided by their number: the sum is then (all but always) the correctly rounded
// sum of the per-query values, so a mean that is exact on paper prints exactly (1000 values of
// 0.2 average to 0.2, not 0.19999999999999718). BEIR sums plainly; the two differ by a few units
// in the last place at most (far below its 5-decimal rounding).
void average_per_query(const MetricPlan& plan, EvalResult& result) {
  result.evaluated_queries = result.per_query.size();
  struct CompensatedSum {
    double sum = 0.0;
    double compensation = 0.0;
    void add(double value) {
      const double total = sum + value;
      compensation += std::abs(sum) >= std::abs(value) ? (sum - total) + value : (value - total) + sum;
      sum = total;
    }
  };
  std::vector<CompensatedSum> sums(plan.names_in_order.size());
  // Every query's values have the mean's names, in the same order.
  for (const auto& [query_id, values] : result.per_query) {
    auto total = sums.begin();
    for (const auto& [name, value] : values) (total++)->add(value);
  }
  auto total = sums.begin();
  for (const auto& [name, slot] : plan.names_in_order) {
    const double sum = total->sum + total->compensation;
    ++total;
    result.mean.emplace_hint(result.mean.end(), name,
                             result.evaluated_queries > 0 ? sum / static_cast<double>(result.evaluated_queries) : 0.0);
  }
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
  const MetricPlan plan(options);
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
    const std::size_t depth = std::min(scratch.positions.size(), plan.max_depth());
    scratch.ranked_values.clear();
    for (std::size_t i = 0; i < depth; ++i) {
      const auto judged = judgements->second.find(docs[scratch.positions[i]].doc_id);
      scratch.ranked_values.push_back(judged != judgements->second.end() ? judged->second : 0);
    }
    scratch.judgement_values.clear();
    for (const auto& [doc_id, value] : judgements->second) scratch.judgement_values.push_back(value);
    result.per_query.emplace(query_id, evaluate_query(plan, scratch));
  }
  for (const auto& [query_id, judgements] : qrels) {
    if (!run.contains(query_id)) ++result.qrels_queries_without_run;
  }
  average_per_query(plan, result);
  return result;
}

EvalResult evaluate_ranked(const data::Qrels& qrels, std::span<const std::string_view> query_ids,
                           std::span<const std::string_view> doc_ids, const std::vector<std::vector<sparse::Hit>>& hits,
                           const EvalOptions& options, std::size_t threads) {
  if (hits.size() != query_ids.size()) {
    throw ContractError(fmt::format("evaluate_ranked: {} hit lists for {} query ids", hits.size(), query_ids.size()));
  }
  for (std::size_t q = 0; q < hits.size(); ++q) {
    for (const sparse::Hit& hit : hits[q]) {
      if (hit.doc >= doc_ids.size()) {
        throw ContractError(fmt::format("evaluate_ranked: query '{}' retrieved row {} of {} documents", query_ids[q],
                                        hit.doc, doc_ids.size()));
      }
    }
  }
  const MetricPlan plan(options);
  constexpr auto kNoRow = std::numeric_limits<std::uint32_t>::max();

  // The rows of the judged documents and of the documents whose id is a query id, found with one
  // pass over the corpus ids; nothing below compares or hashes a retrieved document's id.
  std::vector<std::string_view> wanted;
  for (const auto& [query_id, judgements] : qrels) {
    for (const auto& [doc_id, value] : judgements) wanted.emplace_back(doc_id);
  }
  if (options.ignore_identical_ids) wanted.insert(wanted.end(), query_ids.begin(), query_ids.end());
  const auto rows = positions_of(wanted, doc_ids);
  const auto row_of = [&rows](std::string_view id) {
    const auto found = rows.find(id);
    return found != rows.end() ? found->second : kNoRow;
  };

  // The queries [first_query, end_query) into `result`, with their own scratch space.
  const auto evaluate_queries = [&](std::uint32_t first_query, std::uint32_t end_query, EvalResult& result) {
    QueryScratch scratch;
    std::vector<int> value_of_row(doc_ids.size(), 0);  // the current query's judgements by row
    std::vector<std::uint32_t> last_seen_in(doc_ids.size(), kNoRow);
    std::vector<sparse::Hit> kept;
    for (std::uint32_t q = first_query; q < end_query; ++q) {
      const std::string_view query_id = query_ids[q];
      const std::uint32_t identical_row = options.ignore_identical_ids ? row_of(query_id) : kNoRow;
      kept.clear();
      for (const sparse::Hit& hit : hits[q]) {
        if (hit.doc == identical_row) {
          ++result.identical_ids_dropped;
        } else {
          kept.push_back(hit);
        }
      }
      const auto judgements = qrels.find(std::string(query_id));
      if (judgements == qrels.end()) {
        ++result.run_queries_without_qrels;
        continue;
      }
      // What evaluate() refuses, in its order: a NaN score first, then the smallest duplicate id.
      for (const sparse::Hit& hit : kept) {
        if (std::isnan(hit.score)) {
          throw DataError(fmt::format("run of query '{}': document '{}' has a NaN score", query_id, doc_ids[hit.doc]));
        }
      }
      const std::string_view* duplicate = nullptr;
      for (const sparse::Hit& hit : kept) {
        if (std::exchange(last_seen_in[hit.doc], q) == q && (duplicate == nullptr || doc_ids[hit.doc] < *duplicate)) {
          duplicate = &doc_ids[hit.doc];
        }
      }
      if (duplicate != nullptr) {
        throw DataError(
            fmt::format("run of query '{}': document '{}' is retrieved more than once", query_id, *duplicate));
      }
      const auto out_of_order =
          std::adjacent_find(kept.begin(), kept.end(), [&](const sparse::Hit& a, const sparse::Hit& b) {
            return b.score != a.score ? b.score > a.score : doc_ids[b.doc] > doc_ids[a.doc];
          });
      if (out_of_order != kept.end()) {
        throw ContractError(
            fmt::format("evaluate_ranked: the hits of query '{}' are not in rank order at document '{}'", query_id,
                        doc_ids[std::next(out_of_order)->doc]));
      }

      scratch.judgement_values.clear();
      for (const auto& [doc_id, value] : judgements->second) {
        scratch.judgement_values.push_back(value);
        if (const std::uint32_t row = row_of(doc_id); row != kNoRow) value_of_row[row] = value;
      }
      const std::size_t depth = std::min(kept.size(), plan.max_depth());
      scratch.ranked_values.clear();
      for (std::size_t i = 0; i < depth; ++i) scratch.ranked_values.push_back(value_of_row[kept[i].doc]);
      for (const auto& [doc_id, value] : judgements->second) {
        if (const std::uint32_t row = row_of(doc_id); row != kNoRow) value_of_row[row] = 0;
      }
      if (!result.per_query.emplace(query_id, evaluate_query(plan, scratch)).second) {
        throw DataError(fmt::format("query '{}' appears twice in the run", query_id));
      }
    }
  };
  // Parts of the queries are evaluated into results of their own, merged below.
  const std::size_t parts = std::clamp<std::size_t>(query_ids.size(), 1, resolve_threads(threads));
  std::vector<EvalResult> partial(parts);
  parallel_for(parts, parts, [&](std::size_t first_part, std::size_t end_part) {
    for (std::size_t part = first_part; part < end_part; ++part) {
      evaluate_queries(static_cast<std::uint32_t>(query_ids.size() * part / parts),
                       static_cast<std::uint32_t>(query_ids.size() * (part + 1) / parts), partial[part]);
    }
  });
  EvalResult result = std::move(partial.front());
  for (std::size_t part = 1; part < parts; ++part) {
    result.identical_ids_dropped += partial[part].identical_ids_dropped;
    result.run_queries_without_qrels += partial[part].run_queries_without_qrels;
    result.per_query.merge(partial[part].per_query);
    if (!partial[part].per_query.empty()) {  // left behind: already in another part
      throw DataError(fmt::format("query '{}' appears twice in the run", partial[part].per_query.begin()->first));
    }
  }
  // The query ids are distinct, so the qrels' queries without a run are those not evaluated.
  result.qrels_queries_without_run = qrels.size() - result.per_query.size();
  average_per_query(plan, result);
  return result;
}

}  // namespace limit_eval::eval
