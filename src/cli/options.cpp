#include "limit_eval/cli/options.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/core/resources.hpp"
#include "limit_eval/core/version.hpp"

namespace limit_eval::cli {

CLI::Validator integer_in_range(long long min, long long max) {
  return CLI::Validator(
      [min, max](const std::string& text) -> std::string {
        long long value = 0;
        const char* const end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, value);
        if (text.empty() || stop != end || (error != std::errc{} && error != std::errc::result_out_of_range)) {
          return fmt::format("not a number: '{}' (give an integer from {} to {})", text, min, max);
        }
        if (error == std::errc::result_out_of_range || value < min || value > max) {
          return fmt::format("{} is out of range: give an integer from {} to {}", text, min, max);
        }
        return {};
      },
      fmt::format("INT in [{} - {}]", min, max));
}

namespace {
constexpr const char* kGlobalGroup = "Global";
}  // namespace

void add_global_options(CLI::App& app, GlobalOptions& options) {
  auto* group = app.add_option_group(kGlobalGroup, "Options of every command, before or after the command's name");
  group->add_option("--log-level", options.log_level, "Log verbosity on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->default_str(options.log_level);
  group->add_option("-t,--threads", options.threads, "Worker threads (0: all cores)")
      ->check(integer_in_range(0, 4096))
      ->default_str(std::to_string(options.threads));
}

void reject_inapplicable_options(const CLI::App& app) {
  const auto commands = app.get_subcommands();
  if (commands.empty()) return;
  const CLI::App& command = *commands.front();
  for (const CLI::App* group : app.get_subcommands({})) {
    if (!group->get_name().empty() || group->get_group() == kGlobalGroup) continue;  // a command, or global
    for (const CLI::Option* option : group->get_options()) {
      if (option->count() == 0) continue;
      const std::string name = option->get_name();
      const bool command_has_it = command.get_option_no_throw(name) != nullptr;
      throw UsageError(fmt::format(
          "{} is an option of the evaluation run (limit-eval without a command) and does not apply to '{} {}'{}", name,
          app.get_name(), command.get_name(),
          command_has_it ? fmt::format(": give it after '{}'", command.get_name()) : std::string{}));
    }
  }
}

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
  return resource_dir() / "data";
}

data::Dataset load_dataset(const DataOptions& options, double& seconds) {
  const auto root = data::resolve_dataset(options.dataset, resolve_data_root(options));
  Stopwatch clock;
  data::Dataset dataset = data::load_dataset(root, options.split);
  seconds = clock.seconds();
  spdlog::info("dataset {}: {} documents, {} queries, {} judgements ({:.3f} s)", dataset.root.string(),
               dataset.corpus.size(), dataset.queries.size(), dataset.qrels_report.judgements, seconds);
  return dataset;
}

void add_metric_options(CLI::App& app, MetricOptions& options) {
  auto* group = app.add_option_group("Metrics");
  group
      ->add_option_function<std::vector<int>>(
          "-k,--k",
          [&options](const std::vector<int>& values) {
            // Sorted, each cut-off once: -k 10,10 is -k 10.
            options.k_values = values;
            std::sort(options.k_values.begin(), options.k_values.end());
            options.k_values.erase(std::unique(options.k_values.begin(), options.k_values.end()),
                                   options.k_values.end());
          },
          "Cut-offs of NDCG/MAP/Recall/P/MRR, comma-separated (sorted; a repeated one counts once)")
      ->delimiter(',')
      ->check(integer_in_range(1, 1000000))
      ->default_str(fmt::format("{}", fmt::join(options.k_values, ",")));
  group->add_option("--relevance-level", options.relevance_level,
                    "Smallest qrels score that counts as relevant (trec_eval -l)")
      ->check(integer_in_range(1, 1000000))
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
      ->check(integer_in_range(1, 1LL << 30))
      ->capture_default_str();
}

void add_cache_options(CLI::App& app, CacheOptions& options, bool offer_no_cache) {
  auto* group = app.add_option_group("Cache");
  auto* cache_dir = group->add_option("--cache-dir", options.directory,
                                      "Folder of the encoded-corpus cache (default: $LIMIT_EVAL_CACHE_DIR, else "
                                      "~/.cache/limit-eval/vectors)");
  if (!offer_no_cache) return;
  cache_dir->description(cache_dir->get_description() + "; refused with --no-cache");
  group->add_flag("--no-cache", options.disabled,
                  "Neither read nor write the encoded-corpus cache (encode the corpus every time)")
      ->excludes(cache_dir);
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
