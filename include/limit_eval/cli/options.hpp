#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "limit_eval/data/dataset.hpp"
#include "limit_eval/eval/significance.hpp"

namespace limit_eval::cli {

// Reusable option groups. Each add_* registers its options (validated at parse time) on `app`.

// A validator for integer options: "not a number: 'abc'" for text that is not an integer (a
// leading '-' included where min is 0), "must be from MIN to MAX" otherwise.
CLI::Validator integer_in_range(long long min, long long max);

// The options every command takes, before or after the subcommand's name (--log-level,
// --threads). main() registers them on the application and on each subcommand, bound to the same
// variables.
struct GlobalOptions {
  std::string log_level = "info";
  std::size_t threads = 0;  // 0: all cores
};
void add_global_options(CLI::App& app, GlobalOptions& options);

// The evaluation run's options live on the root command; when a subcommand runs, any of them that
// was given (before the subcommand's name, or after it and passed up by CLI11) would be ignored.
// Throws UsageError naming the first such option. The global options apply everywhere.
void reject_inapplicable_options(const CLI::App& app);

struct DataOptions {
  std::string dataset = "limit-small";
  std::string split = "test";
  std::filesystem::path data_root;  // empty: $LIMIT_EVAL_DATA_ROOT, else the source tree's data/
};
void add_data_options(CLI::App& app, DataOptions& options);
std::filesystem::path resolve_data_root(const DataOptions& options);
// Loads the dataset --dataset names and logs its size; `seconds` receives the loading time.
data::Dataset load_dataset(const DataOptions& options, double& seconds);

struct MetricOptions {
  std::vector<int> k_values{2, 10, 20, 100};  // sorted and without duplicates once parsed
  int relevance_level = 1;
};
void add_metric_options(CLI::App& app, MetricOptions& options);

// --qrels-format auto|jsonl|tsv|trec (a qrels file given on the command line).
void add_qrels_format_option(CLI::App& app, data::QrelsFormat& format);

// Paired significance tests of `limit-eval compare`.
struct SignificanceOptions {
  std::string metric = "NDCG@10";
  eval::PairedTest test = eval::PairedTest::t;
  eval::Correction correction = eval::Correction::holm;
  double alpha = 0.05;
  std::size_t samples = 10000;
  std::uint64_t seed = 42;
};
void add_significance_options(CLI::App& app, SignificanceOptions& options);

struct RetrievalOptions {
  std::size_t top_k = 100;
};
void add_retrieval_options(CLI::App& app, RetrievalOptions& options);

// --cache-dir, and --no-cache where the command can run without the cache (offer_no_cache).
struct CacheOptions {
  bool disabled = false;             // --no-cache
  std::filesystem::path directory;  // empty: $LIMIT_EVAL_CACHE_DIR, else ~/.cache/limit-eval/vectors
};
void add_cache_options(CLI::App& app, CacheOptions& options, bool offer_no_cache = true);
// The cache root; empty when none can be determined (no option, variable or HOME).
std::filesystem::path resolve_cache_dir(const CacheOptions& options);

}  // namespace limit_eval::cli
