// `limit-eval generate`: a synthetic LIMIT-style dataset of any size, reproducible from its seed;
// `limit-eval build-train-set`: the seed's training set (DESIGN.md §5) from the same generator.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/resources.hpp"
#include "limit_eval/data/generate.hpp"

namespace limit_eval::cli {
namespace {

struct GenerateCommandOptions {
  std::filesystem::path output;
  data::GenerateOptions generate;
  std::string attributes_per_document = "45";
  std::filesystem::path attributes_file = resource_dir() / "data" / "limit-attributes.txt";
  std::filesystem::path names_file = resource_dir() / "data" / "names.txt";
  bool force = false;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void log_counts(const std::filesystem::path& output, const data::GeneratedDataset& dataset, std::uint64_t seed) {
  spdlog::info("{}: {} documents, {} queries, {} judgements (seed {})", output.string(), dataset.corpus.size(),
               dataset.queries.size(), dataset.qrels.size(), seed);
}

void log_documents(const data::GenerationStatistics& statistics) {
  spdlog::info("per document: attributes min {} mean {:.2f} max {}; text characters min {} mean {:.1f} max {}",
               statistics.min_attributes, statistics.mean_attributes, statistics.max_attributes,
               statistics.min_text_chars, statistics.mean_text_chars, statistics.max_text_chars);
}

void generate(GenerateCommandOptions options) {
  const auto start = std::chrono::steady_clock::now();
  options.generate.attributes_per_document = data::parse_attribute_count_range(options.attributes_per_document);
  // Refuse before any work.
  data::check_output_folder(options.output, options.force);
  const auto attributes = data::load_attributes(options.attributes_file);
  const auto names = data::load_names(options.names_file);
  data::validate_generate_options(options.generate, attributes, names);

  const auto generation_start = std::chrono::steady_clock::now();
  const data::GeneratedDataset dataset = data::generate_dataset(options.generate, attributes, names);
  const double generation_seconds = seconds_since(generation_start);
  const auto writing_start = std::chrono::steady_clock::now();
  data::write_generated_dataset(dataset, options.output, options.force);
  const double writing_seconds = seconds_since(writing_start);

  const auto& statistics = dataset.statistics;
  log_counts(options.output, dataset, options.generate.seed);
  spdlog::info("{} relevant documents per query, drawn from a pool of {} documents; attributes: {} from {} ({} asked "
               "about, {} fillers); names: {} first and {} last from {}",
               options.generate.relevant_per_query, statistics.relevant_pool, attributes.size(),
               options.attributes_file.string(), options.generate.queries, statistics.filler_attributes,
               names.first.size(), names.last.size(), options.names_file.string());
  log_documents(statistics);
  spdlog::info("{} ids with a middle initial", statistics.middle_initials);
  spdlog::info("generated in {:.3f} s, written in {:.3f} s, {:.3f} s in all", generation_seconds, writing_seconds,
               seconds_since(start));
}

struct TrainSetCommandOptions {
  std::filesystem::path output;  // empty: <data root>/limit-train
  data::TrainSetOptions train;
  std::string attributes_per_document = "5-15";
  std::filesystem::path attributes_file = resource_dir() / "data" / "limit-attributes.txt";
  std::filesystem::path test_queries_file = resource_dir() / "data" / "limit" / "queries.jsonl";
  std::filesystem::path names_file = resource_dir() / "data" / "names.txt";
  bool force = false;
};

void build_train_set(TrainSetCommandOptions options) {
  const auto start = std::chrono::steady_clock::now();
  options.train.attributes_per_document = data::parse_attribute_count_range(options.attributes_per_document);
  if (options.output.empty()) options.output = resolve_data_root(DataOptions{}) / "limit-train";
  data::check_output_folder(options.output, options.force);
  const auto all_attributes = data::load_attributes(options.attributes_file);
  const auto test_attributes = data::load_asked_attributes(options.test_queries_file);
  const auto attributes = data::attributes_except(all_attributes, test_attributes);
  const auto names = data::load_names(options.names_file);
  data::validate_train_set_options(options.train, attributes, names);

  const data::GeneratedDataset dataset = data::build_train_set(options.train, attributes, names);
  data::write_generated_dataset(dataset, options.output, options.force);
  const auto& statistics = dataset.statistics;
  log_counts(options.output, dataset, options.train.seed);
  spdlog::info("attributes: {} from {} less {} asked about by {} ({} distinct); {} asked about here, {} of them again",
               all_attributes.size(), options.attributes_file.string(), all_attributes.size() - attributes.size(),
               options.test_queries_file.string(), test_attributes.size(),
               attributes.size() - statistics.filler_attributes, statistics.reused_query_attributes);
  spdlog::info("{} relevant documents per query; {} documents are relevant to some query",
               options.train.relevant_per_query, statistics.relevant_pool);
  log_documents(statistics);
  spdlog::info("built and written in {:.3f} s", seconds_since(start));
}

CLI::Validator attribute_count_validator() {
  return CLI::Validator(
      [](const std::string& value) -> std::string {
        try {
          data::parse_attribute_count_range(value);
          return {};
        } catch (const UsageError& error) {
          return error.what();
        }
      },
      "");
}

// Options that generate and build-train-set share.
void add_attributes_option(CLI::App& command, std::filesystem::path& attributes_file) {
  command.add_option("--attributes", attributes_file,
                     "Attributes to draw from, one per line (default: the repository's data/limit-attributes.txt)")
      ->type_name("FILE");
}

void add_names_option(CLI::App& command, std::filesystem::path& names_file) {
  command.add_option("--names", names_file,
                     "First and last names, in [first] and [last] sections (default: the repository's "
                     "data/names.txt)")
      ->type_name("FILE");
}

void add_force_option(CLI::App& command, bool& force) {
  command.add_flag("--force", force,
                   "Write into a non-empty DIR, replacing its corpus.jsonl, queries.jsonl and qrels.jsonl");
}

}  // namespace

void add_generate_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<GenerateCommandOptions>();
  auto* command = app.add_subcommand(
      "generate",
      "Write a synthetic LIMIT-style dataset (corpus.jsonl, queries.jsonl, qrels.jsonl) of any size; the same "
      "options and seed give the same bytes");
  command->add_option("-o,--output", options->output, "Dataset folder to write (refused when not empty, see --force)")
      ->required()
      ->type_name("DIR");
  command->add_option("--documents", options->generate.documents, "Number of documents")
      ->check(integer_in_range(1, 100'000'000))
      ->capture_default_str();
  command->add_option("--queries", options->generate.queries, "Number of queries (each asks about its own attribute)")
      ->check(integer_in_range(1, 100'000'000))
      ->capture_default_str();
  command->add_option("--relevant-per-query", options->generate.relevant_per_query,
                      "Relevant documents per query (LIMIT: 2)")
      ->check(integer_in_range(1, 100'000))
      ->capture_default_str();
  command
      ->add_option("--attributes-per-document", options->attributes_per_document,
                   "Attributes each document lists, N or a uniform range MIN-MAX (LIMIT: 45); a document relevant to "
                   "more queries lists all of theirs")
      ->check(attribute_count_validator())
      ->type_name("N|MIN-MAX")
      ->capture_default_str();
  command->add_option("--seed", options->generate.seed, "Seed of the generator")->capture_default_str();
  add_attributes_option(*command, options->attributes_file);
  add_names_option(*command, options->names_file);
  add_force_option(*command, options->force);
  add_global_options(*command, global);
  command->callback([options] { generate(*options); });
}

void add_build_train_set_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<TrainSetCommandOptions>();
  auto* command = app.add_subcommand(
      "build-train-set",
      "Write the seed's LIMIT-style training set (DESIGN.md section 5): documents doc_i \"<First> <Last> likes a, "
      "b, c.\" over the attributes that no test query asks about, and \"Who likes X?\" queries with their relevant "
      "documents; the same options and seed give the same bytes");
  command
      ->add_option("-o,--output", options->output,
                   "Dataset folder to write (default: <data root>/limit-train, which --dataset limit-train resolves; "
                   "data root: $LIMIT_EVAL_DATA_ROOT, else the repository's data/; refused when not empty, see --force)")
      ->type_name("DIR");
  command->add_option("--documents", options->train.documents, "Number of documents")
      ->check(integer_in_range(1, 100'000'000))
      ->capture_default_str();
  command
      ->add_option("--queries", options->train.queries,
                   "Number of queries, over distinct attributes listed by enough documents (reused only when too few "
                   "are)")
      ->check(integer_in_range(1, 100'000'000))
      ->capture_default_str();
  command->add_option("--relevant-per-query", options->train.relevant_per_query,
                      "Relevant documents per query, drawn from the documents that list its attribute")
      ->check(integer_in_range(1, 100'000))
      ->capture_default_str();
  command
      ->add_option("--attributes-per-document", options->attributes_per_document,
                   "Distinct attributes each document lists, N or a uniform range MIN-MAX")
      ->check(attribute_count_validator())
      ->type_name("N|MIN-MAX")
      ->capture_default_str();
  command->add_option("--seed", options->train.seed, "Seed of the generator")->capture_default_str();
  add_attributes_option(*command, options->attributes_file);
  command->add_option("--test-queries", options->test_queries_file,
                      "Test queries \"Who likes X?\" whose attributes are left out (default: the repository's "
                      "data/limit/queries.jsonl)")
      ->type_name("FILE");
  add_names_option(*command, options->names_file);
  add_force_option(*command, options->force);
  add_global_options(*command, global);
  command->callback([options] { build_train_set(*options); });
}

}  // namespace limit_eval::cli
