// `limit-eval finetune`: trains an exported model on a BEIR training set with the seed's recipe
// (DESIGN.md §5) and writes a new model folder. The training runs in the neural plugin.

#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/model_factory.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/registry.hpp"
#include "limit_eval/neural/finetune.hpp"

namespace limit_eval::cli {
namespace {

struct FinetuneCommandOptions {
  neural::FinetuneOptions finetune;
  std::string model;
  std::filesystem::path models_root;
  std::string train = "limit-train";
  std::filesystem::path data_root;
  std::string samples = "all";
  std::size_t epochs = 0;      // 0: the seed's choice
  std::size_t batch_size = 0;  // 0: the seed's choice
  double document_threshold = -1;  // < 0: none
  double query_threshold = -1;
  bool freeze_query_weights = false;
};

void finetune(FinetuneCommandOptions options, const GlobalOptions& global) {
  auto& finetune = options.finetune;
  // Refuse before loading anything.
  std::error_code ec;
  if (std::filesystem::exists(finetune.output, ec)) {
    throw UsageError(fmt::format("--output {} exists; choose a new folder (nothing was trained)",
                                 finetune.output.string()));
  }
  const auto models_root = options.models_root.empty() ? encode::default_models_root() : options.models_root;
  const auto reference = encode::resolve_model(options.model, models_root);
  if (reference.kind == encode::ModelReference::Kind::bm25) {
    throw UsageError("--model bm25 has no parameters to train: give an exported neural model");
  }
  finetune.model = reference.folder;
  DataOptions data;
  data.data_root = options.data_root;
  finetune.train = data::resolve_dataset(options.train, resolve_data_root(data));
  if (options.samples != "all") {
    std::size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(options.samples, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != options.samples.size() || value < 1) {
      throw UsageError(fmt::format("--samples '{}': expected a count of at least 1 or 'all'", options.samples));
    }
    finetune.samples = static_cast<std::size_t>(value);
  }
  if (options.epochs > 0) finetune.epochs = options.epochs;
  if (options.batch_size > 0) finetune.batch_size = options.batch_size;
  if (options.document_threshold >= 0) finetune.document_regularizer_threshold = options.document_threshold;
  if (options.query_threshold >= 0) finetune.query_regularizer_threshold = options.query_threshold;
  finetune.train_query_weights = !options.freeze_query_weights;
  finetune.threads = global.threads;
  run_finetune(finetune);
}

// --document-regularizer-<setting> and --query-regularizer-<setting>: `description` names the side
// at its "{}".
template <typename T>
void add_regularizer_options(CLI::App& command, std::string_view setting, T& document, T& query,
                             std::string_view description, bool show_default) {
  for (auto [side, value] : {std::pair<std::string_view, T*>{"document", &document}, {"query", &query}}) {
    auto* option = command.add_option(fmt::format("--{}-regularizer-{}", side, setting), *value,
                                       fmt::format(fmt::runtime(description), side));
    if (show_default) option->capture_default_str();
  }
}

}  // namespace

void add_finetune_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<FinetuneCommandOptions>();
  auto& f = options->finetune;
  auto* command = app.add_subcommand(
      "finetune",
      "Fine-tune an exported model (document encoder and query weights) on a training set with the seed's recipe: "
      "SpladeLoss (in-batch ranking loss + FLOPS regularizers), AdamW, linear warm-up and decay, as "
      "sentence-transformers' SparseEncoderTrainer; writes a new model folder");
  command->add_option("-m,--model", options->model,
                      "Model to train: a registered short name or an exported model folder written with "
                      "scripts/export_model.py --trainable")
      ->required();
  command->add_option("--models-root", options->models_root,
                      "Folder where short names are looked for (default: $LIMIT_EVAL_MODELS_ROOT, else models/)")
      ->check(CLI::ExistingDirectory);
  command->add_option("--train", options->train,
                      "Training set: a dataset name under the data root or a BEIR folder; every judgement of score "
                      ">= 1 is a (query, document) sample")
      ->capture_default_str();
  command->add_option("--data-root", options->data_root,
                      "Folder where dataset names resolve (default: $LIMIT_EVAL_DATA_ROOT, else data/)")
      ->check(CLI::ExistingDirectory);
  command->add_option("--split", f.split, "Qrels split when the folder has qrels/<split>.tsv")->capture_default_str();
  command->add_option("--samples", options->samples,
                      "Train on the first N samples after the seeded shuffle, or all")
      ->capture_default_str();
  command->add_option("-o,--output", f.output, "Model folder to write (must not exist)")->required()->type_name("DIR");
  command->add_option("--name", f.name, "The new model's name (default: the output folder's name)");
  command->add_option("--epochs", options->epochs,
                      "Epochs (default: the seed's, as many as make 80 steps: 40 for 2 samples, 4 for 1,700)")
      ->check(integer_in_range(0, 1'000'000));
  command->add_option("--batch-size", options->batch_size,
                      "Samples per step (default: the seed's, max(1, samples / 20): 1 for 2 samples, 85 for 1,700)")
      ->check(integer_in_range(0, 1'000'000));
  command->add_option("--lr", f.learning_rate, "Peak learning rate of AdamW")->capture_default_str();
  command->add_option("--adam-beta1", f.adam_beta1, "AdamW beta1")->capture_default_str();
  command->add_option("--adam-beta2", f.adam_beta2, "AdamW beta2")->capture_default_str();
  command->add_option("--adam-epsilon", f.adam_epsilon, "AdamW epsilon")->capture_default_str();
  command->add_option("--weight-decay", f.weight_decay, "AdamW weight decay")->capture_default_str();
  command->add_option("--warmup-ratio", f.warmup_ratio, "Share of the steps with a linear warm-up (then linear decay)")
      ->capture_default_str();
  command->add_option("--max-grad-norm", f.max_grad_norm, "Gradient norm clipping")->capture_default_str();
  command->add_option("--scale", f.scale, "Scale of the dot-product scores in the ranking loss")->capture_default_str();
  add_regularizer_options(*command, "weight", f.document_regularizer_weight, f.query_regularizer_weight,
                          "Weight of the FLOPS regularizer on {} embeddings", /*show_default=*/true);
  add_regularizer_options(*command, "threshold", options->document_threshold, options->query_threshold,
                          "l0 mask: only {} embeddings with more non-zeros than this count in the regularizer "
                          "(default: none)",
                          /*show_default=*/false);
  command->add_option("--regularizer-warmup-ratio", f.regularizer_warmup_ratio,
                      "The regularizer weights grow from 0 to theirs over this share of the steps (as "
                      "sentence-transformers' SpladeRegularizerWeightSchedulerCallback)")
      ->capture_default_str();
  command->add_option("--regularizer-schedule", f.regularizer_schedule,
                      "How the regularizer weights grow: quadratic or linear")
      ->check(CLI::IsMember({"quadratic", "linear"}))
      ->capture_default_str();
  command->add_option("--activation", f.activation,
                      "Pooling activation while training and in the written model: relu or log1p_relu (default: "
                      "the model's)")
      ->check(CLI::IsMember({"relu", "log1p_relu"}));
  command->add_flag("--freeze-query-weights", options->freeze_query_weights,
                    "Train the document encoder only (the seed trains the query weights too)");
  command->add_option("--seed", f.seed, "Seed of the sample shuffle and of dropout")->capture_default_str();
  command->add_option("--sampler-seed", f.sampler_seed,
                      "Seed of the NO_DUPLICATES batch sampler, whose permutation of epoch E is torch.randperm seeded "
                      "with this + E (sentence-transformers 5.1's trainer leaves it at 0 whatever its seed)")
      ->capture_default_str();
  command->add_option("--device", f.device, "auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
      ->check(CLI::Validator(
          [](const std::string& value) {
            static const std::regex pattern("auto|cpu|cuda(:[0-9]+)?");
            return std::regex_match(value, pattern) ? std::string{} : "must be auto, cpu, cuda or cuda:N";
          },
          "DEVICE"))
      ->capture_default_str();
  command->add_option("--checkpoint-every", f.checkpoint_every,
                      "Save a checkpoint every K steps in <output's folder>/.<output's name>.partial, which --resume "
                      "continues after the run is stopped (even by kill -9); 0 = none")
      ->check(integer_in_range(0, 1'000'000'000))
      ->capture_default_str();
  command->add_flag("--resume", f.resume,
                    "Continue the interrupted run of this output from its last checkpoint (the same options, data, "
                    "model, device and thread count; the final weights are the same, bit for bit, as an "
                    "uninterrupted run's)");
  add_global_options(*command, global);
  command->callback([options, &global] { finetune(*options, global); });
}

}  // namespace limit_eval::cli
