#include "limit_eval/cli/options.hpp"

#include <cstdlib>
#include <map>

#include "limit_eval/core/version.hpp"

namespace limit_eval::cli {

void add_data_options(CLI::App& app, DataOptions& options) {
  auto* group = app.add_option_group("Data");
  group->add_option("-d,--dataset", options.dataset,
                    "Dataset name (a folder under the data root: limit-small, limit) or path of a BEIR/MTEB folder "
                    "holding corpus.jsonl, queries.jsonl and qrels.jsonl (or qrels/<split>.tsv)")
      ->capture_default_str();
  group->add_option("--split", options.split, "Qrels split used when the folder has BEIR's qrels/<split>.tsv")
      ->capture_default_str();
  group->add_option("--data-root", options.data_root,
                    "Folder where dataset names resolve (default: $LIMIT_EVAL_DATA_ROOT, else the repository's data/)")
      ->check(CLI::ExistingDirectory);
}

std::filesystem::path resolve_data_root(const DataOptions& options) {
  if (!options.data_root.empty()) return options.data_root;
  if (const char* env = std::getenv("LIMIT_EVAL_DATA_ROOT"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(kSourceDir) / "data";
}

void add_metric_options(CLI::App& app, MetricOptions& options) {
  auto* group = app.add_option_group("Metrics");
  group->add_option("-k,--k", options.k_values, "Cut-offs of NDCG/MAP/Recall/P/MRR, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  group->add_option("--relevance-level", options.relevance_level,
                    "Smallest qrels score that counts as relevant (trec_eval -l)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
}

void add_qrels_format_option(CLI::App& app, data::QrelsFormat& format) {
  const std::map<std::string, data::QrelsFormat> formats{{"auto", data::QrelsFormat::automatic},
                                                         {"jsonl", data::QrelsFormat::jsonl},
                                                         {"tsv", data::QrelsFormat::beir_tsv},
                                                         {"trec", data::QrelsFormat::trec}};
  app.add_option("--qrels-format", format,
                 "Qrels format: auto (detected: .jsonl, BEIR .tsv with its header, or TREC 'qid iter docno rel' "
                 "lines), jsonl, tsv, trec")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case).description(""))
      ->type_name("auto|jsonl|tsv|trec")
      ->default_str("auto");
}

void add_significance_options(CLI::App& app, SignificanceOptions& options) {
  auto* group = app.add_option_group("Significance");
  group->add_option("--metric", options.metric, "Metric compared, as in the results (NDCG@10, Recall@2, MAP@10, ...)")
      ->capture_default_str();
  const std::map<std::string, eval::PairedTest> tests{{"t", eval::PairedTest::t},
                                                      {"randomization", eval::PairedTest::randomization},
                                                      {"bootstrap", eval::PairedTest::bootstrap}};
  group->add_option("--test", options.test,
                    "Paired test: t (Student's paired t-test), randomization (Fisher's, --samples permutations), "
                    "bootstrap (paired, --samples resamples)")
      ->transform(CLI::CheckedTransformer(tests, CLI::ignore_case).description(""))
      ->type_name("t|randomization|bootstrap")
      ->default_str("t");
  const std::map<std::string, eval::Correction> corrections{{"holm", eval::Correction::holm},
                                                            {"bonferroni", eval::Correction::bonferroni},
                                                            {"none", eval::Correction::none}};
  group->add_option("--correction", options.correction, "Correction for multiple comparisons: holm, bonferroni, none")
      ->transform(CLI::CheckedTransformer(corrections, CLI::ignore_case).description(""))
      ->type_name("holm|bonferroni|none")
      ->default_str("holm");
  group->add_option("--alpha", options.alpha, "Significance level; intervals are at 1 - alpha")
      ->check(CLI::Range(1e-9, 0.5))
      ->capture_default_str();
  group->add_option("--samples", options.samples, "Permutations of the randomization test and bootstrap resamples")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str();
  group->add_option("--seed", options.seed, "Seed of the permutations and resamples")->capture_default_str();
}

void add_retrieval_options(CLI::App& app, RetrievalOptions& options) {
  auto* group = app.add_option_group("Retrieval");
  group->add_option("--top-k", options.top_k, "Documents retrieved per query")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
}

void add_compute_options(CLI::App& app, ComputeOptions& options) {
  auto* group = app.add_option_group("Compute");
  group->add_option("-t,--threads", options.threads, "Worker threads (0: all cores)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{4096}))
      ->capture_default_str();
}

void add_cache_options(CLI::App& app, CacheOptions& options) {
  auto* group = app.add_option_group("Cache");
  auto* no_cache = group->add_flag("--no-cache", options.disabled,
                                   "Neither read nor write the encoded-corpus cache (encode the corpus every time)");
  group->add_option("--cache-dir", options.directory,
                    "Folder of the encoded-corpus cache (default: $LIMIT_EVAL_CACHE_DIR, else "
                    "~/.cache/limit-eval/vectors)")
      ->excludes(no_cache);
}

std::filesystem::path resolve_cache_dir(const CacheOptions& options) {
  if (!options.directory.empty()) return options.directory;
  if (const char* env = std::getenv("LIMIT_EVAL_CACHE_DIR"); env != nullptr && *env != '\0') return env;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "limit-eval" / "vectors";
  }
  return {};
}

}  // namespace limit_eval::cli
