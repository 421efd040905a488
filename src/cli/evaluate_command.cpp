// `limit-eval evaluate`: trec_eval/pytrec_eval-exact metrics of an existing TREC run file.

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/eval/trec_run.hpp"

namespace limit_eval::cli {
namespace {

struct EvaluateOptions {
  std::filesystem::path run_file;
  std::filesystem::path qrels_file;
  data::QrelsFormat qrels_format = data::QrelsFormat::automatic;
  MetricOptions metrics;
  bool keep_identical_ids = false;
  bool per_query = false;
};

// Metrics in a reading order (family, then k ascending) rather than the map's alphabetical one.
nlohmann::ordered_json metrics_json(const eval::MetricValues& values, const std::vector<int>& k_values) {
  std::vector<int> cutoffs = k_values;
  std::sort(cutoffs.begin(), cutoffs.end());
  cutoffs.erase(std::unique(cutoffs.begin(), cutoffs.end()), cutoffs.end());
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const char* family : {"NDCG", "MAP", "Recall", "P", "MRR"}) {
    for (const int k : cutoffs) {
      const std::string name = std::string(family) + "@" + std::to_string(k);
      json[name] = values.at(name);
    }
  }
  return json;
}

void evaluate_run(const EvaluateOptions& options) {
  data::QrelsReport qrels_report;
  // A run file cannot hold whitespace in ids; its writer turns it into '_', and so do we here.
  const data::Qrels qrels =
      eval::trec_compatible_qrels(data::load_qrels(options.qrels_file, &qrels_report, options.qrels_format),
                                  options.qrels_file);
  const eval::Run run = eval::read_trec_run(options.run_file);
  const eval::EvalOptions eval_options{.k_values = options.metrics.k_values,
                                       .relevance_level = options.metrics.relevance_level,
                                       .ignore_identical_ids = !options.keep_identical_ids};
  const eval::EvalResult result = eval::evaluate(qrels, run, eval_options);

  spdlog::info("{}: {} queries; {}: {} judgements of {} queries; {} queries evaluated", options.run_file.string(),
               run.size(), options.qrels_file.string(), qrels_report.judgements, qrels.size(),
               result.evaluated_queries);
  if (result.run_queries_without_qrels > 0) {
    spdlog::warn("{} queries of the run have no judgement (not evaluated)", result.run_queries_without_qrels);
  }
  if (result.qrels_queries_without_run > 0) {
    spdlog::warn("{} judged queries are missing from the run (not evaluated, as in BEIR)",
                 result.qrels_queries_without_run);
  }
  if (result.identical_ids_dropped > 0) {
    spdlog::info("{} retrieved documents whose id equals the query id were ignored (BEIR's default)",
                 result.identical_ids_dropped);
  }
  if (result.evaluated_queries == 0) {
    spdlog::warn("no query is both in the run and in the qrels: every metric is 0");
  }

  nlohmann::ordered_json output;
  output["metrics"] = metrics_json(result.mean, options.metrics.k_values);
  output["evaluated_queries"] = result.evaluated_queries;
  output["run_queries_without_qrels"] = result.run_queries_without_qrels;
  output["qrels_queries_without_run"] = result.qrels_queries_without_run;
  output["identical_ids_dropped"] = result.identical_ids_dropped;
  output["relevance_level"] = options.metrics.relevance_level;
  output["ignore_identical_ids"] = eval_options.ignore_identical_ids;
  output["run"] = options.run_file.string();
  output["qrels"] = options.qrels_file.string();
  if (options.per_query) {
    nlohmann::ordered_json per_query = nlohmann::ordered_json::object();
    for (const auto& [query_id, values] : result.per_query) {
      per_query[query_id] = metrics_json(values, options.metrics.k_values);
    }
    output["per_query"] = std::move(per_query);
  }
  // nlohmann prints doubles in their shortest round-trip form.
  std::cout << output.dump(2) << '\n' << std::flush;
}

}  // namespace

void add_evaluate_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<EvaluateOptions>();
  CLI::App* command = app.add_subcommand(
      "evaluate",
      "Compute BEIR/pytrec_eval metrics (NDCG, MAP, Recall, P, MRR at each k) of a TREC run file against qrels; "
      "prints JSON on stdout");
  command->add_option("--run", options->run_file, "TREC run file: query Q0 doc rank score tag")
      ->required()
      ->type_name("FILE");
  command->add_option("--qrels", options->qrels_file, "Qrels as BEIR/MTEB qrels.jsonl, a BEIR qrels .tsv or TREC qrels (qid iter docno rel)")
      ->required()
      ->type_name("FILE");
  add_qrels_format_option(*command, options->qrels_format);
  add_metric_options(*command, options->metrics);
  command->add_flag("--keep-identical-ids", options->keep_identical_ids,
                    "Keep retrieved documents whose id equals the query id (BEIR drops them by default)");
  command->add_flag("--per-query", options->per_query, "Also print every query's metrics");
  add_global_options(*command, global);
  command->callback([options] { evaluate_run(*options); });
}

}  // namespace limit_eval::cli
