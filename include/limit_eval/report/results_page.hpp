#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "limit_eval/report/published_results.hpp"
#include "limit_eval/report/result_file.hpp"

namespace limit_eval::report {

struct ResultsPageOptions {
  // Short names `limit-eval --model NAME` resolves (models/registry.json); other exported models
  // are reproduced with their recorded folder.
  std::set<std::string> registered_models{"v1", "v2-distill", "v3-distill", "v3-gte"};
  std::string binary = "build/limit-eval";   // as written in the reproduction commands
  // Where `--dataset NAME` resolves for the reproduction commands: a result's dataset is given by
  // name when <data_root>/<name> is the folder it was measured on (or that folder is not on this
  // machine), else by its recorded path. Empty: always by name.
  std::filesystem::path data_root;
  // Where registered short names resolve: a registered model measured from another folder that
  // exists here is given by that folder. Empty: registered models always by name.
  std::filesystem::path models_root;
  std::string figures_folder = "figures";    // relative to the markdown
};

struct ResultsPage {
  std::string markdown;
  std::vector<std::pair<std::string, std::string>> figures;  // path relative to the markdown -> SVG text
};

// The results page: the seed README's tables (zero-shot limit-small and limit, fine-tuned) from
// the results that exist, each row followed by the published value and the difference, with the
// device, dtype and date it was measured on; the figures (recall against embedding size per
// dataset, metrics against fine-tuning samples) and their data tables; where each result was
// measured and the commands that reproduce it. Deterministic: the same inputs give the same bytes.
ResultsPage build_results_page(const std::vector<ResultFile>& results, const PublishedResults& published,
                               const ResultsPageOptions& options = {});

// Writes the figures beside the markdown and the markdown itself, each to a temporary name first;
// nothing is moved into place unless every file was written completely.
void write_results_page(const ResultsPage& page, const std::filesystem::path& markdown_path);

// Model order of the tables: bm25, v1, v2-distill, v3-distill, v3-gte, then the others
// alphabetically.
bool model_order_before(const std::string& a, const std::string& b);

}  // namespace limit_eval::report
