// `limit-eval report`: the results page (tables, figures, environments, reproduction commands)
// from every results JSON under a folder.

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/resources.hpp"
#include "limit_eval/encode/registry.hpp"
#include "limit_eval/report/published_results.hpp"
#include "limit_eval/report/result_file.hpp"
#include "limit_eval/report/results_page.hpp"

namespace limit_eval::cli {
namespace {

struct ReportOptions {
  std::filesystem::path results = "results";
  std::filesystem::path output;     // empty: <results>/README.md
  std::filesystem::path reference;  // empty: the repository's reference/published-results.json
  std::filesystem::path models_root;  // empty: encode::default_models_root()
};

void write_report(const ReportOptions& options) {
  const auto output = options.output.empty() ? options.results / "README.md" : options.output;
  const auto reference =
      options.reference.empty() ? resource_dir() / "reference" / "published-results.json" : options.reference;
  // Everything is read and checked before anything is written.
  const auto results = report::read_results_folder(options.results);
  if (results.empty()) {
    throw IoError(options.results, "no result file (*.json) in this folder, nothing to report: write results with "
                                   "limit-eval or scripts/run_experiments.sh first");
  }
  const auto published = report::read_published_results(reference);
  report::ResultsPageOptions page_options;
  const auto registry = encode::read_model_registry();
  page_options.registered_models.clear();
  for (const auto& [name, entry] : registry.items()) page_options.registered_models.insert(name);
  page_options.data_root = resolve_data_root(DataOptions{});
  page_options.models_root = options.models_root.empty() ? encode::default_models_root() : options.models_root;
  const auto page = report::build_results_page(results, published, page_options);
  report::write_results_page(page, output);
  spdlog::info("{} result files from {} -> {} ({} figures)", results.size(), options.results.string(),
               output.string(), page.figures.size());
}

}  // namespace

void add_report_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<ReportOptions>();
  auto* command = app.add_subcommand(
      "report", "Write the results page (markdown tables, SVG figures, environments, reproduction commands) from the "
                "results JSON files");
  command->add_option("--results", options->results, "Folder searched recursively for <dataset>/<model>.json results")
      ->capture_default_str();
  command->add_option("-o,--output", options->output,
                      "Markdown file to write; figures go to figures/ beside it (default: <results>/README.md)");
  command->add_option("--reference", options->reference,
                      "Published values to compare with (default: the repository's reference/published-results.json)");
  command
      ->add_option("--models-root", options->models_root,
                   "Folder where the exported models are, for the reproduction commands (default: "
                   "$LIMIT_EVAL_MODELS_ROOT, else the repository's models/)")
      ->check(CLI::ExistingDirectory);
  add_global_options(*command, global);
  command->callback([options] { write_report(*options); });
}

}  // namespace limit_eval::cli
