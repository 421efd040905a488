#include "limit_eval/eval/comparison.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::eval {

namespace {

// The metric of every query of `system`, in the order of `ids`.
std::vector<double> metric_column(const SystemScores& system, const std::vector<std::string>& ids,
                                  const std::string& metric) {
  std::vector<double> column;
  column.reserve(ids.size());
  for (const auto& id : ids) {
    const auto& values = system.per_query.at(id);
    const auto it = values.find(metric);
    if (it == values.end()) {
      throw DataError::at_id(system.source, id, fmt::format("query has no per-query value of {}", metric));
    }
    column.push_back(it->second);
  }
  return column;
}

bool has_metric_everywhere(const SystemScores& system, const std::string& metric) {
  return std::all_of(system.per_query.begin(), system.per_query.end(),
                     [&](const auto& entry) { return entry.second.contains(metric); });
}

void check_same_queries(const SystemScores& first, const SystemScores& other) {
  for (const auto& [id, values] : first.per_query) {
    if (!other.per_query.contains(id)) {
      throw DataError::at_id(other.source, id,
                             fmt::format("query of {} is missing here: compared systems must be evaluated on the "
                                         "same queries",
                                         first.source.string()));
    }
  }
  for (const auto& [id, values] : other.per_query) {
    if (!first.per_query.contains(id)) {
      throw DataError::at_id(other.source, id,
                             fmt::format("query is not in {}: compared systems must be evaluated on the same queries",
                                         first.source.string()));
    }
  }
}

double mean_of(const std::vector<double>& values) {
  double sum = 0.0;
  for (const double value : values) sum += value;
  return sum / static_cast<double>(values.size());
}

}  // namespace

Comparison compare_systems(const std::vector<SystemScores>& systems, std::optional<std::size_t> baseline,
                           const ComparisonOptions& options) {
  if (systems.size() < 2) throw UsageError(fmt::format("compare needs at least 2 systems, found {}", systems.size()));
  if (baseline && *baseline >= systems.size()) throw UsageError("baseline index out of range");
  if (!(options.alpha > 0.0 && options.alpha < 1.0)) {
    throw UsageError(fmt::format("--alpha must be in (0, 1), found {}", options.alpha));
  }
  if (options.samples == 0) throw UsageError("--samples must be at least 1");
  for (std::size_t s = 1; s < systems.size(); ++s) check_same_queries(systems.front(), systems[s]);
  const std::size_t n = systems.front().per_query.size();
  if (n < 2) throw UsageError(fmt::format("compare needs at least 2 evaluated queries, found {}", n));

  std::vector<std::string> ids;
  ids.reserve(n);
  for (const auto& [id, values] : systems.front().per_query) ids.push_back(id);  // std::map: id order

  Comparison comparison;
  comparison.options = options;
  comparison.queries = n;
  for (const int k : options.fully_right_k) {
    const std::string recall = fmt::format("Recall@{}", k);
    if (std::all_of(systems.begin(), systems.end(),
                    [&](const SystemScores& system) { return has_metric_everywhere(system, recall); })) {
      comparison.fully_right_k.push_back(k);
    }
  }

  std::vector<std::vector<double>> columns;
  std::vector<std::map<int, std::vector<bool>>> fully_right(systems.size());
  for (std::size_t s = 0; s < systems.size(); ++s) {
    columns.push_back(metric_column(systems[s], ids, options.metric));
    SystemSummary summary{systems[s].name, mean_of(columns.back()), {}};
    for (const int k : comparison.fully_right_k) {
      const auto recall = metric_column(systems[s], ids, fmt::format("Recall@{}", k));
      auto& flags = fully_right[s][k];
      flags.reserve(n);
      for (const double value : recall) flags.push_back(value >= 1.0);
      summary.fully_right[k] = static_cast<std::size_t>(std::count(flags.begin(), flags.end(), true));
    }
    comparison.systems.push_back(std::move(summary));
  }

  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  if (baseline) {
    for (std::size_t s = 0; s < systems.size(); ++s) {
      if (s != *baseline) pairs.emplace_back(*baseline, s);
    }
  } else {
    for (std::size_t i = 0; i < systems.size(); ++i) {
      for (std::size_t j = i + 1; j < systems.size(); ++j) pairs.emplace_back(i, j);
    }
  }

  std::vector<double> p_values;
  for (const auto& [base, model] : pairs) {
    const auto& a = columns[base];
    const auto& b = columns[model];
    PairComparison pair;
    pair.baseline = base;
    pair.model = model;
    pair.baseline_mean = comparison.systems[base].mean;
    pair.model_mean = comparison.systems[model].mean;
    pair.difference = pair.model_mean - pair.baseline_mean;
    const Bootstrap bootstrap = paired_bootstrap(a, b, options.samples, options.seed, 1.0 - options.alpha);
    pair.ci_low = bootstrap.ci_low;
    pair.ci_high = bootstrap.ci_high;
    switch (options.test) {
      case PairedTest::t: {
        const TTest t = paired_t_test(a, b);
        pair.t = t.t;
        pair.p = t.p;
        break;
      }
      case PairedTest::randomization:
        pair.p = randomization_test(a, b, options.samples, options.seed);
        break;
      case PairedTest::bootstrap:
        pair.p = bootstrap.p;
        break;
    }
    for (std::size_t q = 0; q < n; ++q) {
      if (b[q] > a[q]) {
        ++pair.wins;
      } else if (b[q] < a[q]) {
        ++pair.losses;
      } else {
        ++pair.ties;
      }
    }
    for (const int k : comparison.fully_right_k) {
      const auto& base_flags = fully_right[base].at(k);
      const auto& model_flags = fully_right[model].at(k);
      auto& split = pair.fully_right[k];
      for (std::size_t q = 0; q < n; ++q) {
        if (base_flags[q] && !model_flags[q]) split.only_baseline.push_back(ids[q]);
        if (model_flags[q] && !base_flags[q]) split.only_model.push_back(ids[q]);
      }
    }
    p_values.push_back(pair.p);
    comparison.pairs.push_back(std::move(pair));
  }
  const auto corrected = correct_p_values(p_values, options.correction);
  for (std::size_t i = 0; i < comparison.pairs.size(); ++i) {
    comparison.pairs[i].p_corrected = corrected[i];
    comparison.pairs[i].significant = corrected[i] < options.alpha;
  }
  return comparison;
}

}  // namespace limit_eval::eval
