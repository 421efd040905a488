#include "limit_eval/report/comparison.hpp"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/report/table.hpp"

namespace limit_eval::report {

namespace {

constexpr const char* kAbsent = "—";

std::string test_name(eval::PairedTest test) {
  switch (test) {
    case eval::PairedTest::t: return "Student's paired t-test";
    case eval::PairedTest::randomization: return "Fisher's randomization test";
    case eval::PairedTest::bootstrap: return "paired bootstrap test";
  }
  return "?";
}

std::string correction_name(eval::Correction correction) {
  switch (correction) {
    case eval::Correction::none: return "no correction";
    case eval::Correction::bonferroni: return "Bonferroni";
    case eval::Correction::holm: return "Holm";
  }
  return "?";
}

template <typename T>
void require_equal(const ResultFile& first, const ResultFile& other, const char* what, const T& a, const T& b) {
  if (a != b) {
    throw DataError(other.path, 0,
                    fmt::format("cannot be compared with {}: its {} differs ({} here, {} there)", first.path.string(),
                                what, fmt::format("{}", b), fmt::format("{}", a)));
  }
}

template <typename T>
std::string optional_text(const std::optional<T>& value) {
  return value ? fmt::format("{}", *value) : std::string("absent");
}

std::string confidence_percent(double alpha) {
  const double percent = (1.0 - alpha) * 100.0;
  return fmt::format("{:g}%", std::round(percent * 1e6) / 1e6);
}

}  // namespace

std::string p_value_cell(double p, eval::PairedTest test, std::size_t samples) {
  // A resampling test that no resample reached says p < 1 / samples, not p = 0.
  if (p == 0.0 && test != eval::PairedTest::t) return fmt::format("< {:g}", 1.0 / static_cast<double>(samples));
  if (p == 0.0) return "0";
  if (p >= 0.001) return fmt::format("{:.4f}", p);
  return fmt::format("{:.2e}", p);
}

std::string interval_cell(double low, double high) { return fmt::format("[{:+.4f}, {:+.4f}]", low, high); }

void check_comparable(const std::vector<ResultFile>& results) {
  for (const auto& result : results) {
    if (result.per_query.empty()) {
      throw DataError(result.path, 0, "holds no per-query values (\"per_query\"): it cannot be compared");
    }
  }
  if (results.empty()) return;
  const ResultFile& first = results.front();
  for (std::size_t i = 1; i < results.size(); ++i) {
    const ResultFile& other = results[i];
    require_equal(first, other, "dataset", first.dataset, other.dataset);
    require_equal(first, other, "number of documents", optional_text(first.dataset_documents),
                  optional_text(other.dataset_documents));
    require_equal(first, other, "number of queries", optional_text(first.dataset_queries),
                  optional_text(other.dataset_queries));
    require_equal(first, other, "number of judgements", optional_text(first.qrels_judgements),
                  optional_text(other.qrels_judgements));
    require_equal(first, other, "settings.top_k", optional_text(first.settings.top_k),
                  optional_text(other.settings.top_k));
    require_equal(first, other, "settings.k_values", fmt::format("{}", fmt::join(first.settings.k_values, ",")),
                  fmt::format("{}", fmt::join(other.settings.k_values, ",")));
    require_equal(first, other, "settings.relevance_level", optional_text(first.settings.relevance_level),
                  optional_text(other.settings.relevance_level));
    require_equal(first, other, "settings.ignore_identical_ids", optional_text(first.settings.ignore_identical_ids),
                  optional_text(other.settings.ignore_identical_ids));
  }
}

std::vector<std::string> distinct_names(const std::vector<std::string>& names, const std::vector<std::string>& files) {
  std::map<std::string, std::size_t> count;
  for (const auto& name : names) ++count[name];
  std::vector<std::string> result;
  for (std::size_t i = 0; i < names.size(); ++i) result.push_back(count[names[i]] > 1 ? files[i] : names[i]);
  return result;
}

std::vector<ComparedSystem> compared_systems(const std::vector<ResultFile>& results) {
  check_comparable(results);
  std::vector<std::string> names;
  std::vector<std::string> files;
  for (const auto& result : results) {
    names.push_back(result.model);
    files.push_back(result.path.string());
  }
  const auto labels = distinct_names(names, files);
  std::vector<ComparedSystem> systems;
  for (std::size_t i = 0; i < results.size(); ++i) {
    systems.push_back({eval::SystemScores{labels[i], results[i].path, results[i].per_query}, files[i],
                       results[i].efficiency});
  }
  return systems;
}

std::string comparison_markdown(const eval::Comparison& comparison, const std::vector<ComparedSystem>& systems,
                                const std::string& heading) {
  const auto& options = comparison.options;
  std::string out = heading + "\n\n";
  out += fmt::format(
      "{}, {} over {} comparison{}, alpha {:g}; {} intervals of the difference by paired bootstrap ({} resamples, "
      "seed {}){}. Differences are model − baseline; wins/ties/losses count the queries where the model scores "
      "higher/equal/lower. Fully right at k: every relevant document in the top k (Recall@k = 1).\n\n",
      test_name(options.test), correction_name(options.correction), comparison.pairs.size(),
      comparison.pairs.size() == 1 ? "" : "s", options.alpha, confidence_percent(options.alpha), options.samples,
      options.seed,
      options.test == eval::PairedTest::randomization ? fmt::format("; {} permutations", options.samples)
                                                      : std::string{});

  std::vector<std::string> header{"System", options.metric};
  for (const int k : comparison.fully_right_k) header.push_back(fmt::format("Fully right @{}", k));
  header.insert(header.end(), {"Doc active dims (mean)", "Query active dims (mean)", "FLOPS", "File"});
  std::vector<std::vector<std::string>> rows;
  for (std::size_t s = 0; s < systems.size(); ++s) {
    const auto& summary = comparison.systems[s];
    std::vector<std::string> row{summary.name, fmt::format("{:.4f}", summary.mean)};
    for (const int k : comparison.fully_right_k) {
      row.push_back(fmt::format("{} / {}", summary.fully_right.at(k), comparison.queries));
    }
    if (const auto& efficiency = systems[s].efficiency) {
      row.push_back(fmt::format("{:.1f}", efficiency->documents.mean));
      row.push_back(fmt::format("{:.1f}", efficiency->queries.mean));
      row.push_back(fmt::format("{:.3f}", efficiency->flops));
    } else {
      row.insert(row.end(), {kAbsent, kAbsent, kAbsent});
    }
    row.push_back(fmt::format("`{}`", systems[s].file));
    rows.push_back(std::move(row));
  }
  out += markdown_grid(header, rows) + "\n";

  header = {"Baseline", "Model", "Baseline mean", "Model mean", "Difference",
            fmt::format("{} CI", confidence_percent(options.alpha)), "p",
            fmt::format("p ({})", correction_name(options.correction)), "Significant", "Wins / ties / losses"};
  for (const int k : comparison.fully_right_k) header.push_back(fmt::format("Only baseline / only model fully right @{}", k));
  rows.clear();
  for (const auto& pair : comparison.pairs) {
    std::vector<std::string> row{comparison.systems[pair.baseline].name,
                                 comparison.systems[pair.model].name,
                                 fmt::format("{:.4f}", pair.baseline_mean),
                                 fmt::format("{:.4f}", pair.model_mean),
                                 fmt::format("{:+.4f}", pair.difference),
                                 interval_cell(pair.ci_low, pair.ci_high),
                                 p_value_cell(pair.p, options.test, options.samples),
                                 p_value_cell(pair.p_corrected, options.test, options.samples),
                                 pair.significant ? "yes" : "no",
                                 fmt::format("{} / {} / {}", pair.wins, pair.ties, pair.losses)};
    for (const int k : comparison.fully_right_k) {
      const auto& split = pair.fully_right.at(k);
      row.push_back(fmt::format("{} / {}", split.only_baseline.size(), split.only_model.size()));
    }
    rows.push_back(std::move(row));
  }
  out += markdown_grid(header, rows) + "\n";
  return out;
}

nlohmann::ordered_json comparison_json(const eval::Comparison& comparison, const std::vector<ComparedSystem>& systems,
                                       const std::string& dataset) {
  using Json = nlohmann::ordered_json;
  const auto& options = comparison.options;
  Json root;
  root["format"] = kComparisonFormat;
  root["dataset"] = dataset.empty() ? Json(nullptr) : Json(dataset);
  root["metric"] = options.metric;
  root["queries"] = comparison.queries;
  root["test"] = eval::to_string(options.test);
  root["correction"] = eval::to_string(options.correction);
  root["alpha"] = options.alpha;
  root["confidence"] = 1.0 - options.alpha;
  root["samples"] = options.samples;
  root["seed"] = options.seed;
  root["fully_right_k"] = comparison.fully_right_k;
  Json system_list = Json::array();
  for (std::size_t s = 0; s < systems.size(); ++s) {
    const auto& summary = comparison.systems[s];
    Json system;
    system["name"] = summary.name;
    system["file"] = systems[s].file;
    system["mean"] = summary.mean;
    Json fully_right = Json::object();
    for (const auto& [k, count] : summary.fully_right) fully_right[std::to_string(k)] = count;
    system["fully_right"] = std::move(fully_right);
    system["efficiency"] =
        systems[s].efficiency ? Json(efficiency_json(*systems[s].efficiency)) : Json(nullptr);
    system_list.push_back(std::move(system));
  }
  root["systems"] = std::move(system_list);
  Json pairs = Json::array();
  for (const auto& pair : comparison.pairs) {
    Json entry;
    entry["baseline"] = comparison.systems[pair.baseline].name;
    entry["model"] = comparison.systems[pair.model].name;
    entry["baseline_mean"] = pair.baseline_mean;
    entry["model_mean"] = pair.model_mean;
    entry["difference"] = pair.difference;
    entry["ci"] = {pair.ci_low, pair.ci_high};
    // ±inf (a constant difference) is not JSON: the sign and "inf" as text.
    if (pair.t) {
      entry["t"] = std::isfinite(*pair.t) ? Json(*pair.t) : Json(*pair.t > 0 ? "inf" : "-inf");
    }
    entry["p"] = pair.p;
    entry["p_corrected"] = pair.p_corrected;
    entry["significant"] = pair.significant;
    entry["wins"] = pair.wins;
    entry["ties"] = pair.ties;
    entry["losses"] = pair.losses;
    Json fully_right = Json::object();
    for (const auto& [k, split] : pair.fully_right) {
      fully_right[std::to_string(k)] = {{"only_baseline", split.only_baseline}, {"only_model", split.only_model}};
    }
    entry["fully_right"] = std::move(fully_right);
    pairs.push_back(std::move(entry));
  }
  root["pairs"] = std::move(pairs);
  return root;
}

}  // namespace limit_eval::report
