// `limit-eval compare`: are two (or more) models really different? Paired significance tests over
// the per-query values of results JSON files (or of TREC run files evaluated against --qrels).

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/eval/comparison.hpp"
#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/eval/trec_run.hpp"
#include "limit_eval/report/comparison.hpp"
#include "limit_eval/report/result_file.hpp"

namespace limit_eval::cli {
namespace {

struct CompareOptions {
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path baseline;  // empty: every pair
  SignificanceOptions significance;
  std::filesystem::path qrels_file;  // set: the inputs are TREC run files
  data::QrelsFormat qrels_format = data::QrelsFormat::automatic;
  MetricOptions metrics;
  bool keep_identical_ids = false;
  bool json = false;
};

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  const bool equivalent = std::filesystem::equivalent(a, b, ec);
  return ec ? a.lexically_normal() == b.lexically_normal() : equivalent;
}

// Result files: checked for a shared dataset and settings.
std::vector<report::ComparedSystem> systems_from_results(const std::vector<std::filesystem::path>& files,
                                                         std::string& dataset) {
  std::vector<report::ResultFile> results;
  for (const auto& file : files) results.push_back(report::read_result_file(file, file));
  dataset = results.front().dataset;
  return report::compared_systems(results);
}

// TREC run files, each evaluated against the qrels as `limit-eval evaluate` does.
std::vector<report::ComparedSystem> systems_from_runs(const std::vector<std::filesystem::path>& files,
                                                      const CompareOptions& options) {
  data::QrelsReport qrels_report;
  const data::Qrels qrels = eval::trec_compatible_qrels(
      data::load_qrels(options.qrels_file, &qrels_report, options.qrels_format), options.qrels_file);
  const eval::EvalOptions eval_options{.k_values = options.metrics.k_values,
                                       .relevance_level = options.metrics.relevance_level,
                                       .ignore_identical_ids = !options.keep_identical_ids};
  std::vector<std::string> names;
  std::vector<std::string> paths;
  std::vector<eval::EvalResult> evaluated;
  for (const auto& file : files) {
    const eval::Run run = eval::read_trec_run(file);
    evaluated.push_back(eval::evaluate(qrels, run, eval_options));
    spdlog::info("{}: {} queries evaluated against {}", file.string(), evaluated.back().evaluated_queries,
                 options.qrels_file.string());
    names.push_back(file.filename().string());
    paths.push_back(file.string());
  }
  const auto labels = report::distinct_names(names, paths);
  std::vector<report::ComparedSystem> systems;
  for (std::size_t i = 0; i < files.size(); ++i) {
    systems.push_back({eval::SystemScores{labels[i], files[i], std::move(evaluated[i].per_query)}, paths[i],
                       std::nullopt});
  }
  return systems;
}

void compare(const CompareOptions& options) {
  std::vector<std::filesystem::path> files = options.inputs;
  std::optional<std::size_t> baseline;
  if (!options.baseline.empty()) {
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (same_file(files[i], options.baseline)) baseline = i;
    }
    if (!baseline) {
      files.insert(files.begin(), options.baseline);
      baseline = 0;
    }
  }
  if (files.size() < 2) {
    throw UsageError(fmt::format("compare needs at least 2 files (or 1 and --baseline), found {}", files.size()));
  }

  std::string dataset;
  const auto systems = options.qrels_file.empty() ? systems_from_results(files, dataset)
                                                  : systems_from_runs(files, options);
  std::vector<eval::SystemScores> scores;
  for (const auto& system : systems) scores.push_back(system.scores);

  eval::ComparisonOptions comparison_options;
  comparison_options.metric = options.significance.metric;
  comparison_options.test = options.significance.test;
  comparison_options.correction = options.significance.correction;
  comparison_options.alpha = options.significance.alpha;
  comparison_options.samples = options.significance.samples;
  comparison_options.seed = options.significance.seed;
  const eval::Comparison comparison = eval::compare_systems(scores, baseline, comparison_options);
  spdlog::info("{} systems, {} pairs, {} queries: {} test of {}", systems.size(), comparison.pairs.size(),
               comparison.queries, eval::to_string(comparison_options.test), comparison_options.metric);

  if (options.json) {
    std::cout << report::comparison_json(comparison, systems, dataset).dump(2) << '\n' << std::flush;
  } else {
    const std::string heading =
        fmt::format("## {} on {}: {} queries", comparison_options.metric,
                    dataset.empty() ? options.qrels_file.filename().string() : dataset, comparison.queries);
    std::cout << report::comparison_markdown(comparison, systems, heading) << std::flush;
  }
}

}  // namespace

void add_compare_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<CompareOptions>();
  CLI::App* command = app.add_subcommand(
      "compare",
      "Paired significance tests between results of the same dataset: means, difference, bootstrap interval, "
      "p-values corrected for multiple comparisons, wins/ties/losses, queries fully right; markdown on stdout");
  command->add_option("files", options->inputs,
                      "Results JSON files written by limit-eval (or TREC run files with --qrels)")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("FILE ...");
  command->add_option("--baseline", options->baseline,
                      "Compare every other file with this one (added when not among the files); default: every pair")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  add_significance_options(*command, options->significance);
  auto* runs = command->add_option_group("TREC runs");
  runs->add_option("--qrels", options->qrels_file,
                   "The files are TREC run files: evaluate each against these qrels (jsonl, BEIR tsv or TREC)")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  add_qrels_format_option(*runs, options->qrels_format);
  add_metric_options(*runs, options->metrics);
  runs->add_flag("--keep-identical-ids", options->keep_identical_ids,
                 "With --qrels: keep retrieved documents whose id equals the query id (BEIR drops them)");
  command->add_flag("--json", options->json, "Print the comparison as JSON instead of markdown");
  add_global_options(*command, global);
  command->callback([options] { compare(*options); });
}

}  // namespace limit_eval::cli
