// `limit-eval finetune`: sentence-transformers 5.1's SparseEncoderTrainer step for step (DESIGN.md
// §5), on the train-mode trace that export_model.py --trainable writes.

#include "limit_eval/neural/finetune.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/checksum.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/log.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/core/random.hpp"
#include "limit_eval/core/shell.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/encode/tokenizer_factory.hpp"
#include "limit_eval/neural/document_model.hpp"
#include "limit_eval/neural/plugin.hpp"

namespace limit_eval::neural {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kSampleShuffleStream = 0x5A3F1E;  // SeededRandom stream of the sample shuffle
constexpr std::size_t kSeedSteps = 80;                    // the seed's runs: 80 optimizer steps each

struct Sample {
  std::string query;
  std::string document;
};

// The command that re-exports `folder` with the trainable document encoder.
std::string reexport_command(const encode::ModelManifest& manifest) {
  const json& source = manifest.source;
  std::string command = "scripts/export_model.py " + shell_word(source.value("id", std::string("SOURCE"))) +
                        " --output " + shell_word(manifest.folder.string()) + " --name " +
                        shell_word(manifest.name) + " --trainable --force";
  if (source.contains("revision") && source["revision"].is_string()) {
    command += " --revision " + shell_word(source["revision"].get<std::string>());
  }
  if (source.value("trust_remote_code", false)) command += " --trust-remote-code";
  if (source.contains("code_revision") && source["code_revision"].is_string()) {
    command += " --code-revision " + shell_word(source["code_revision"].get<std::string>());
  }
  for (const char* key : {"model_kwargs", "config_kwargs"}) {
    if (source.contains(key) && source[key].is_object() && !source[key].empty()) {
      std::string flag = std::string("--") + key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      command += " " + flag + " " + shell_word(source[key].dump());
    }
  }
  return command;
}

struct Trainable {
  fs::path file;
  std::vector<std::string> decoder_weight;  // names of the decoder's weight in the train module
  std::vector<std::string> decoder_bias;
};

Trainable trainable_of(const encode::ModelManifest& manifest) {
  const auto block = manifest.raw.find("trainable");
  if (block == manifest.raw.end() || !block->is_object() || !block->contains("file")) {
    throw ModelError(fmt::format("{}: this model folder cannot be trained: it has no train-mode document encoder "
                                 "(manifest 'trainable'). Re-export it with:\n  {}",
                                 manifest.folder.string(), reexport_command(manifest)));
  }
  Trainable trainable{.file = manifest.folder / block->at("file").get<std::string>()};
  for (const auto& name : block->value("decoder_weight", json::array())) trainable.decoder_weight.push_back(name);
  for (const auto& name : block->value("decoder_bias", json::array())) trainable.decoder_bias.push_back(name);
  return trainable;
}

// Every judgement of score >= 1 as a (query text, document text) pair: queries in file order, a
// query's documents in corpus order; then shuffled with the seed.
std::vector<Sample> training_samples(const data::Dataset& dataset, std::uint64_t seed) {
  std::unordered_map<std::string_view, std::size_t> position;
  for (std::size_t i = 0; i < dataset.corpus.size(); ++i) position.emplace(dataset.corpus[i].id, i);
  std::vector<Sample> samples;
  std::vector<std::size_t> relevant;
  for (const auto& query : dataset.queries) {
    const auto judged = dataset.qrels.find(query.id);
    if (judged == dataset.qrels.end()) continue;
    relevant.clear();
    for (const auto& [document, score] : judged->second) {
      const auto at = position.find(document);
      if (score >= 1 && at != position.end()) relevant.push_back(at->second);
    }
    std::sort(relevant.begin(), relevant.end());
    for (const std::size_t document : relevant) {
      samples.push_back({query.text, encode::document_text(dataset.corpus[document])});
    }
  }
  SeededRandom(seed, kSampleShuffleStream).shuffle(samples);
  return samples;
}

// NoDuplicatesBatchSampler of sentence-transformers: a permutation from torch.randperm with a
// generator seeded seed + epoch, cut greedily into batches whose texts are all distinct (a sample
// that clashes waits for a later batch).
std::vector<std::vector<std::size_t>> epoch_batches(const std::vector<Sample>& samples, std::size_t batch_size,
                                                    std::uint64_t seed, std::size_t epoch) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed + epoch);
  const auto permutation = torch::randperm(static_cast<std::int64_t>(samples.size()), generator, torch::kInt64);
  std::vector<std::size_t> remaining(samples.size());
  const auto* order = permutation.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < samples.size(); ++i) remaining[i] = static_cast<std::size_t>(order[i]);
  std::vector<std::vector<std::size_t>> batches;
  while (!remaining.empty()) {
    std::unordered_set<std::string_view> values;  // membership only
    std::vector<std::size_t> batch;
    for (const std::size_t index : remaining) {
      const Sample& sample = samples[index];
      if (values.contains(sample.query) || values.contains(sample.document)) continue;
      batch.push_back(index);
      if (batch.size() == batch_size) break;
      values.insert(sample.query);
      values.insert(sample.document);
    }
    std::vector<std::size_t> rest;
    std::unordered_set<std::size_t> taken(batch.begin(), batch.end());
    for (const std::size_t index : remaining) {
      if (!taken.contains(index)) rest.push_back(index);
    }
    remaining = std::move(rest);
    batches.push_back(std::move(batch));
  }
  return batches;
}

// transformers' get_linear_schedule_with_warmup.
double schedule_factor(std::size_t step, std::size_t warmup, std::size_t total) {
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<std::size_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<std::size_t>(1, total - warmup)));
}

// The regularizer weights' share of theirs at `step` (SpladeRegularizerWeightSchedulerCallback).
double regularizer_factor(std::size_t step, std::size_t warmup, const std::string& schedule) {
  if (step >= warmup) return 1.0;
  const double ratio = static_cast<double>(step) / static_cast<double>(std::max<std::size_t>(warmup, 1));
  return schedule == "linear" ? ratio : ratio * ratio;
}

// FlopsLoss: the squared L2 norm of the mean embedding; with a threshold, only embeddings with more
// non-zeros than it count (the others are zeroed but still divide the mean).
torch::Tensor flops(torch::Tensor embeddings, const std::optional<double>& threshold) {
  if (threshold) {
    const auto l0 = (embeddings != 0).sum(1);
    const auto mask = (l0 > *threshold).to(torch::kFloat32);
    embeddings = embeddings * mask.unsqueeze(1);
  }
  return torch::sum(torch::pow(torch::mean(embeddings, 0), 2));
}

// SpladePooling in training: (logits * mask), relu, log1p (twice for log1p_relu), max over tokens.
torch::Tensor splade_pool(const torch::Tensor& logits, const torch::Tensor& mask, const std::string& activation) {
  auto x = torch::relu(logits * mask.unsqueeze(-1).to(logits.dtype()));
  x = torch::log1p(x);
  if (activation == "log1p_relu") x = torch::log1p(x);
  return std::get<0>(torch::max(x, 1));
}

std::pair<torch::Tensor, torch::Tensor> pad_batch(const std::vector<const std::vector<std::uint32_t>*>& rows,
                                                  std::int64_t pad_id) {
  std::size_t width = 0;
  for (const auto* row : rows) width = std::max(width, row->size());
  const auto b = static_cast<std::int64_t>(rows.size());
  const auto w = static_cast<std::int64_t>(std::max<std::size_t>(width, 1));
  auto ids = torch::full({b, w}, pad_id, torch::kInt64);
  auto mask = torch::zeros({b, w}, torch::kInt64);
  auto ids_access = ids.accessor<std::int64_t, 2>();
  auto mask_access = mask.accessor<std::int64_t, 2>();
  for (std::int64_t r = 0; r < b; ++r) {
    const auto& row = *rows[static_cast<std::size_t>(r)];
    for (std::size_t t = 0; t < row.size(); ++t) {
      ids_access[r][static_cast<std::int64_t>(t)] = row[t];
      mask_access[r][static_cast<std::int64_t>(t)] = 1;
    }
  }
  return {ids, mask};
}

std::int64_t token_id(const text::Tokenizer& tokenizer, const std::string& token) {
  for (std::uint32_t id = 0; id < tokenizer.id_limit(); ++id) {
    if (tokenizer.token(id) == token) return id;
  }
  return 0;
}

std::map<std::string, torch::Tensor> named_parameters(const torch::jit::Module& module) {
  std::map<std::string, torch::Tensor> named;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) named.emplace(item.name, item.value);
  return named;
}

torch::Tensor find_named(const std::map<std::string, torch::Tensor>& named, const std::vector<std::string>& names,
                         const char* what, const fs::path& file) {
  for (const auto& name : names) {
    if (const auto at = named.find(name); at != named.end()) return at->second;
  }
  throw ModelError(fmt::format("{}: no parameter for the decoder's {} (manifest 'trainable' names {})", file.string(),
                               what, fmt::join(names, ", ")));
}

// The run's working folder beside the output (".NAME.partial"): removed on failure unless it holds
// a checkpoint (which --resume continues), renamed to the output at the end.
class StagingFolder {
 public:
  StagingFolder(fs::path path, bool resume) : path_(std::move(path)) {
    std::error_code ec;
    if (fs::exists(path_, ec) && !resume) {
      throw UsageError(fmt::format("{} holds an interrupted run of this output: add --resume to continue it from its "
                                   "last checkpoint, or remove the folder",
                                   path_.string()));
    }
    if (!fs::exists(path_, ec) && resume) {
      throw UsageError(fmt::format("--resume: no interrupted run to continue ({} does not exist)", path_.string()));
    }
    fs::create_directories(path_, ec);
    if (ec) throw IoError(path_, "cannot create: " + ec.message());
  }
  void keep() { released_ = true; }
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;
  ~StagingFolder() {
    std::error_code ignored;
    if (!released_) fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool released_ = false;
};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw IoError(path, "write failed");
}

std::string dataset_sha256(const data::Dataset& dataset) {
  std::string digests;
  for (const auto& path : {dataset.corpus_path, dataset.queries_path, dataset.qrels_report.path}) {
    digests += sha256_file(path);
  }
  return sha256_bytes(digests);
}

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

constexpr const char* kCheckpointFile = "checkpoint.pt";
constexpr const char* kRunFile = "run.json";

struct TrainingState {
  std::vector<torch::Tensor>& parameters;
  torch::optim::Optimizer& optimizer;
  torch::Device device;
};

// The random generators dropout draws from: the CPU's, and the accelerator's when training on one.
// (The batch sampler needs none: each epoch's permutation comes from a generator seeded anew.)
std::vector<std::pair<std::string, at::Generator>> random_generators(const torch::Device& device) {
  std::vector<std::pair<std::string, at::Generator>> generators{{"cpu_rng", at::detail::getDefaultCPUGenerator()}};
  if (!device.is_cpu()) generators.emplace_back("device_rng", at::globalContext().defaultGenerator(device));
  return generators;
}

// Everything a resumed run needs to continue bit for bit: the parameters, AdamW's moments and step
// counts, the random generators (dropout), the step and how much of the log it had written.
void save_checkpoint(const fs::path& folder, const TrainingState& state, std::size_t step, std::uintmax_t log_bytes) {
  torch::serialize::OutputArchive archive;
  for (std::size_t i = 0; i < state.parameters.size(); ++i) {
    archive.write(fmt::format("parameter_{}", i), state.parameters[i].detach().to(torch::kCPU));
  }
  torch::serialize::OutputArchive optimizer;
  state.optimizer.save(optimizer);
  archive.write("optimizer", optimizer);
  for (auto& [name, generator] : random_generators(state.device)) {
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write(name, generator.get_state());
  }
  archive.write("step", torch::tensor(static_cast<std::int64_t>(step)));
  archive.write("log_bytes", torch::tensor(static_cast<std::int64_t>(log_bytes)));
  const fs::path temporary = folder / (std::string(kCheckpointFile) + ".tmp");
  archive.save_to(temporary.string());
  sync_file(temporary);  // else a crash of the machine could leave the renamed file without its contents
  std::error_code ec;
  fs::rename(temporary, folder / kCheckpointFile, ec);  // atomic: a kill leaves the old one or the new one
  if (ec) throw IoError(folder / kCheckpointFile, "cannot write: " + ec.message());
  sync_folder(folder);
}

// Flushes every file and folder under `folder` to disk before it is renamed into place, as
// AtomicFileWriter does for one file.
void sync_tree(const fs::path& folder) {
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) sync_file(entry.path());
    if (entry.is_directory()) sync_folder(entry.path());
  }
  sync_folder(folder);
}

// Restores a checkpoint; returns {step, log bytes}.
std::pair<std::size_t, std::uintmax_t> load_checkpoint(const fs::path& folder, const TrainingState& state) {
  torch::serialize::InputArchive archive;
  archive.load_from((folder / kCheckpointFile).string());
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < state.parameters.size(); ++i) {
    torch::Tensor value;
    archive.read(fmt::format("parameter_{}", i), value);
    state.parameters[i].copy_(value);
  }
  torch::serialize::InputArchive optimizer;
  archive.read("optimizer", optimizer);
  state.optimizer.load(optimizer);
  torch::Tensor step, log_bytes;
  archive.read("step", step);
  archive.read("log_bytes", log_bytes);
  for (auto& [name, generator] : random_generators(state.device)) {
    torch::Tensor rng;
    archive.read(name, rng);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  }
  return {static_cast<std::size_t>(step.item<std::int64_t>()), static_cast<std::uintmax_t>(log_bytes.item<std::int64_t>())};
}

}  // namespace

std::size_t default_batch_size(std::size_t samples) { return std::max<std::size_t>(1, samples / 20); }

std::size_t default_epochs(std::size_t samples, std::size_t batch_size) {
  const std::size_t steps_per_epoch = (samples + batch_size - 1) / batch_size;
  return std::max<std::size_t>(1, (kSeedSteps + steps_per_epoch / 2) / std::max<std::size_t>(1, steps_per_epoch));
}

void finetune(const FinetuneOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const auto manifest = encode::load_model_manifest(options.model);
  const Trainable trainable = trainable_of(manifest);
  const std::string activation = options.activation.empty() ? manifest.document.activation : options.activation;
  if (activation != "relu" && activation != "log1p_relu") {
    throw UsageError(fmt::format("--activation '{}': expected relu or log1p_relu", activation));
  }
  std::error_code ec;
  if (fs::exists(options.output, ec)) {
    throw UsageError(fmt::format("{} exists; choose a new output folder", options.output.string()));
  }

  const data::Dataset dataset = data::load_dataset(options.train, options.split);
  const std::vector<Sample> all_samples = training_samples(dataset, options.seed);
  if (all_samples.empty()) {
    throw DataError(dataset.qrels_report.path, 0,
                    "no positive judgement (score >= 1) of a known query and document: nothing to train on");
  }
  const std::size_t sample_count = options.samples.value_or(all_samples.size());
  if (sample_count == 0 || sample_count > all_samples.size()) {
    throw UsageError(fmt::format("--samples {}: {} has {} (query, relevant document) samples", sample_count,
                                 options.train.string(), all_samples.size()));
  }
  const std::vector<Sample> samples(all_samples.begin(), all_samples.begin() + static_cast<std::ptrdiff_t>(sample_count));
  const std::size_t batch_size = options.batch_size.value_or(default_batch_size(sample_count));
  const std::size_t epochs = options.epochs.value_or(default_epochs(sample_count, batch_size));
  const std::size_t steps_per_epoch = (sample_count + batch_size - 1) / batch_size;  // the trainer's len(dataloader)
  const std::size_t total_steps = epochs * steps_per_epoch;
  const auto warmup = static_cast<std::size_t>(std::ceil(static_cast<double>(total_steps) * options.warmup_ratio));
  if (options.regularizer_schedule != "quadratic" && options.regularizer_schedule != "linear") {
    throw UsageError(fmt::format("--regularizer-schedule '{}': expected quadratic or linear",
                                 options.regularizer_schedule));
  }
  const std::size_t regularizer_warmup = std::max<std::size_t>(
      1, static_cast<std::size_t>(static_cast<double>(total_steps) * options.regularizer_warmup_ratio));

  const std::string device_string = resolve_device(options.device);
  const torch::Device device(device_string);
  if (device.is_cpu()) torch::set_num_threads(static_cast<int>(resolve_threads(options.threads)));
  torch::manual_seed(options.seed);

  const auto tokenizer = encode::make_tokenizer(manifest.tokenizer);
  const std::int64_t pad_id = token_id(*tokenizer, manifest.tokenizer.pad_token);
  std::vector<std::string> query_texts, document_texts;
  for (const auto& sample : samples) {
    query_texts.push_back(sample.query);
    document_texts.push_back(sample.document);
  }
  const auto query_tokens = tokenizer->encode_batch(query_texts, manifest.query.add_special_tokens,
                                                    manifest.query.max_seq_length, options.threads);
  const auto document_tokens = tokenizer->encode_batch(document_texts, manifest.document.add_special_tokens,
                                                       manifest.document.max_seq_length, options.threads);

  // As DocumentModel: the profiling executor's re-specialisation per input shape costs seconds.
  torch::jit::setGraphExecutorOptimize(false);
  torch::jit::Module module;
  try {
    module = torch::jit::load(trainable.file.string(), device);
  } catch (const c10::Error& e) {
    throw ModelError(fmt::format("{}: not a loadable TorchScript module: {}", trainable.file.string(),
                                 e.what_without_backtrace()));
  }
  module.train();
  // Shared parameters (the decoder tied to the word embeddings) are one tensor, optimised once.
  std::vector<torch::Tensor> parameters;
  {
    std::unordered_set<const void*> seen;
    for (const auto& parameter : module.parameters()) {
      if (seen.insert(parameter.unsafeGetTensorImpl()).second) {
        parameter.set_requires_grad(true);
        parameters.push_back(parameter);
      }
    }
  }
  const auto weights_vector = encode::load_query_weights(manifest);
  auto query_weights = torch::from_blob(const_cast<float*>(weights_vector.data()),
                                        {static_cast<std::int64_t>(weights_vector.size())}, torch::kFloat32)
                           .clone()
                           .to(device)
                           .set_requires_grad(options.train_query_weights);
  if (options.train_query_weights) parameters.push_back(query_weights);
  const auto vocab = static_cast<std::int64_t>(manifest.vocab_size);

  torch::optim::AdamW optimizer(parameters, torch::optim::AdamWOptions(options.learning_rate)
                                                .betas({options.adam_beta1, options.adam_beta2})
                                                .eps(options.adam_epsilon)
                                                .weight_decay(options.weight_decay));

  log::info(fmt::format("fine-tuning {} on {} samples of {} ({} available): {} epochs of batch {} = {} steps, "
                        "warm-up {}, lr {}, seed {}, {}",
                        manifest.name, sample_count, options.train.string(), all_samples.size(), epochs, batch_size,
                        total_steps, warmup, options.learning_rate, options.seed, device_string));

  const fs::path target = fs::absolute(options.output);
  fs::create_directories(target.parent_path(), ec);
  StagingFolder staging(target.parent_path() / fmt::format(".{}.partial", target.filename().string()),
                        options.resume);
  // What must not change between a run and its resumption.
  const json run = {{"base_manifest_sha256", sha256_file(options.model / "manifest.json")},
                    {"train_sha256", dataset_sha256(dataset)},
                    {"samples", sample_count}, {"epochs", epochs}, {"batch_size", batch_size},
                    {"lr", options.learning_rate}, {"betas", {options.adam_beta1, options.adam_beta2}},
                    {"eps", options.adam_epsilon}, {"weight_decay", options.weight_decay},
                    {"warmup_ratio", options.warmup_ratio}, {"max_grad_norm", options.max_grad_norm},
                    {"scale", options.scale},
                    {"regularizer_weights", {options.document_regularizer_weight, options.query_regularizer_weight}},
                    {"regularizer_thresholds", {optional_number(options.document_regularizer_threshold),
                                                optional_number(options.query_regularizer_threshold)}},
                    {"regularizer_warmup", {options.regularizer_warmup_ratio, options.regularizer_schedule}},
                    {"activation", activation}, {"train_query_weights", options.train_query_weights},
                    {"seed", options.seed}, {"sampler_seed", options.sampler_seed}, {"device", device_string},
                    {"threads", resolve_threads(options.threads)}};
  const TrainingState state{parameters, optimizer, device};
  std::size_t resumed_step = 0;
  const fs::path log_path = staging.path() / "train_log.jsonl";
  if (options.resume && fs::exists(staging.path() / kCheckpointFile)) {
    std::ifstream in(staging.path() / kRunFile);
    const json previous = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (previous != run) {
      throw UsageError(fmt::format("--resume: {} was started with other options, data, model or thread count ({}); "
                                   "run it with the same ones",
                                   staging.path().string(), previous.dump()));
    }
    std::uintmax_t log_bytes = 0;
    std::tie(resumed_step, log_bytes) = load_checkpoint(staging.path(), state);
    staging.keep();
    if (std::error_code ec; fs::file_size(log_path, ec) < log_bytes || ec) {
      throw DataError(log_path, 0,
                      fmt::format("shorter than its checkpoint's {} bytes: the interrupted run cannot be continued; "
                                  "remove {} and train again",
                                  log_bytes, staging.path().string()));
    }
    fs::resize_file(log_path, log_bytes);
    log::info(fmt::format("resuming {} at step {} of {}", staging.path().string(), resumed_step, total_steps));
  } else {
    write_file_atomically(staging.path() / kRunFile, run.dump(2) + "\n");
  }
  std::ofstream train_log(log_path, std::ios::binary | (resumed_step > 0 ? std::ios::app : std::ios::trunc));
  json final_losses;
  std::size_t step = 0;
  ProgressBar progress("fine-tuning steps", total_steps);
  progress.advance(resumed_step);
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    auto batches = epoch_batches(samples, batch_size, options.sampler_seed, epoch);
    // The trainer takes len(dataloader) = ceil(samples / batch) batches per epoch: when avoiding
    // duplicate texts made the sampler cut more, the last ones are not trained on.
    batches.resize(std::min(batches.size(), steps_per_epoch));
    for (const auto& batch : batches) {
      if (step < resumed_step) {
        ++step;
        continue;
      }
      const auto step_started = std::chrono::steady_clock::now();
      const double lr = options.learning_rate * schedule_factor(step, warmup, total_steps);
      for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);

      std::vector<const std::vector<std::uint32_t>*> query_rows, document_rows;
      for (const std::size_t index : batch) {
        query_rows.push_back(&query_tokens[index]);
        document_rows.push_back(&document_tokens[index]);
      }
      const auto [query_ids, query_mask] = pad_batch(query_rows, pad_id);
      const auto [document_ids, document_mask] = pad_batch(document_rows, pad_id);
      const auto batch_rows = static_cast<std::int64_t>(batch.size());
      // SparseStaticEmbedding: token presence (the attention mask scattered onto the ids) x weights.
      auto presence = torch::zeros({batch_rows, vocab}, torch::kInt64)
                          .scatter_(1, query_ids, query_mask)
                          .to(device);
      const auto query_embeddings = presence * query_weights;
      const auto document_mask_device = document_mask.to(device);
      const auto logits = module.forward({document_ids.to(device), document_mask_device}).toTensor();
      const auto document_embeddings = splade_pool(logits, document_mask_device, activation);

      const auto scores = torch::matmul(query_embeddings, document_embeddings.t()) * options.scale;
      const auto labels = torch::arange(batch_rows, torch::TensorOptions().dtype(torch::kInt64).device(device));
      const auto ranking = torch::nn::functional::cross_entropy(scores, labels);
      const double regularizer_share = regularizer_factor(step, regularizer_warmup, options.regularizer_schedule);
      const double document_weight = options.document_regularizer_weight * regularizer_share;
      const double query_weight = options.query_regularizer_weight * regularizer_share;
      const auto document_regularizer =
          flops(document_embeddings, options.document_regularizer_threshold) * document_weight;
      const auto query_regularizer = flops(query_embeddings, options.query_regularizer_threshold) * query_weight;
      const auto loss = ranking + document_regularizer + query_regularizer;
      optimizer.zero_grad();
      loss.backward();
      const double grad_norm = torch::nn::utils::clip_grad_norm_(parameters, options.max_grad_norm);
      optimizer.step();

      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - step_started).count();
      final_losses = {{"loss", loss.item<double>()},
                      {"ranking_loss", ranking.item<double>()},
                      {"document_regularizer_loss", document_regularizer.item<double>()},
                      {"query_regularizer_loss", query_regularizer.item<double>()}};
      json line = {{"step", step + 1},
                   {"epoch", epoch},
                   {"lr", lr},
                   {"batch", batch.size()},
                   {"document_regularizer_weight", document_weight},
                   {"query_regularizer_weight", query_weight}};
      line.update(final_losses);
      line["grad_norm"] = grad_norm;
      line["seconds"] = seconds;
      train_log << line.dump() << '\n';
      ++step;
      progress.advance(1);
      if (options.checkpoint_every > 0 && step % options.checkpoint_every == 0 && step < total_steps) {
        train_log.flush();
        sync_file(log_path);  // on disk at least as far as the checkpoint says
        save_checkpoint(staging.path(), state, step, fs::file_size(log_path));
        staging.keep();
      }
    }
  }
  progress.finish();
  train_log.close();
  if (!train_log) throw IoError(staging.path() / "train_log.jsonl", "write failed");

  // The trained model in the base model's format: its inference module with the trained values.
  torch::NoGradGuard no_grad;
  torch::jit::Module inference;
  try {
    inference = torch::jit::load(manifest.document.file.string(), torch::kCPU);
  } catch (const c10::Error& e) {
    throw ModelError(fmt::format("{}: not a loadable TorchScript module: {}", manifest.document.file.string(),
                                 e.what_without_backtrace()));
  }
  module.to(torch::kCPU);
  const auto trained = named_parameters(module);
  for (const auto& item : inference.named_parameters(/*recurse=*/true)) {
    const auto at = trained.find(item.name);
    if (at == trained.end()) {
      throw ModelError(fmt::format("{}: parameter '{}' of {} is not in the trained module", trainable.file.string(),
                                   item.name, manifest.document.file.string()));
    }
    item.value.copy_(at->second);
  }
  if (manifest.document.output == "hidden_states") {
    inference.attr("decoder_weight").toTensor().copy_(find_named(trained, trainable.decoder_weight, "weight", trainable.file));
    inference.attr("decoder_bias").toTensor().copy_(find_named(trained, trainable.decoder_bias, "bias", trainable.file));
  }
  module.eval();
  const fs::path document_file = manifest.raw["document_encoder"].value("file", std::string("document_encoder.pt"));
  inference.save((staging.path() / document_file).string());
  module.train();
  module.save((staging.path() / trainable.file.filename()).string());
  const auto trained_weights = query_weights.detach().to(torch::kCPU).contiguous();
  {
    const fs::path path = staging.path() / manifest.raw["query_encoder"].value("file", std::string("query_weights.f32"));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(trained_weights.data_ptr<float>()),
              static_cast<std::streamsize>(trained_weights.numel() * sizeof(float)));
    out.close();
    if (!out) throw IoError(path, "write failed");
  }
  fs::copy(manifest.folder / "tokenizer", staging.path() / "tokenizer", fs::copy_options::recursive, ec);
  if (ec) throw IoError(manifest.folder / "tokenizer", "cannot copy: " + ec.message());
  {
    std::ofstream out(staging.path() / "train_samples.jsonl", std::ios::binary | std::ios::trunc);
    for (const auto& sample : samples) out << json{{"query", sample.query}, {"document", sample.document}}.dump() << '\n';
  }

  fs::remove(staging.path() / kCheckpointFile, ec);
  fs::remove(staging.path() / kRunFile, ec);
  json manifest_json = manifest.raw;
  manifest_json["name"] = options.name.empty() ? target.filename().string() : options.name;
  if (activation != manifest.document.activation) manifest_json["document_encoder"]["activation"] = activation;
  json files = json::object();
  for (const auto& entry : fs::recursive_directory_iterator(staging.path())) {
    if (!entry.is_regular_file()) continue;
    const auto relative = fs::relative(entry.path(), staging.path()).generic_string();
    if (relative == "train_log.jsonl" || relative == "train_samples.jsonl") continue;
    files[relative] = {{"sha256", sha256_file(entry.path())}, {"bytes", fs::file_size(entry.path())}};
  }
  manifest_json["files"] = files;
  manifest_json["training"] = {
      {"base_model", manifest.name},  // the report's (Finetune) table groups by it
      {"base_model_folder", fs::absolute(options.model).string()},
      {"base_model_manifest_sha256", sha256_file(options.model / "manifest.json")},
      {"train_data", {{"path", fs::absolute(options.train).string()}, {"name", dataset.name},
                      {"sha256", dataset_sha256(dataset)}, {"available_samples", all_samples.size()}}},
      {"samples", sample_count},
      {"epochs", epochs},
      {"batch_size", batch_size},
      {"steps", total_steps},
      {"warmup_steps", warmup},
      {"seed", options.seed},
      {"loss", "SpladeLoss(SparseMultipleNegativesRankingLoss(scale, dot), FlopsLoss document and query "
               "regularizers)"},
      {"scale", options.scale},
      {"document_regularizer_weight", options.document_regularizer_weight},
      {"query_regularizer_weight", options.query_regularizer_weight},
      {"document_regularizer_threshold", optional_number(options.document_regularizer_threshold)},
      {"query_regularizer_threshold", optional_number(options.query_regularizer_threshold)},
      {"activation", activation},
      {"optimizer", {{"name", "AdamW"}, {"lr", options.learning_rate}, {"betas", {options.adam_beta1, options.adam_beta2}},
                     {"eps", options.adam_epsilon}, {"weight_decay", options.weight_decay}}},
      {"scheduler", {{"name", "linear"}, {"warmup_ratio", options.warmup_ratio}}},
      {"regularizer_warmup", {{"schedule", options.regularizer_schedule},
                              {"ratio", options.regularizer_warmup_ratio},
                              {"steps", regularizer_warmup}}},
      {"max_grad_norm", options.max_grad_norm},
      {"batch_sampler", {{"name", "no_duplicates"}, {"seed", options.sampler_seed}}},
      {"train_query_weights", options.train_query_weights},
      {"device", device_string},
      {"checkpoint_every", options.checkpoint_every},
      {"resumed_at_step", resumed_step},
      {"final_losses", final_losses},
      {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}};
  write_text(staging.path() / "manifest.json", manifest_json.dump(2) + "\n");

  if (fs::exists(target, ec)) throw UsageError(fmt::format("{} appeared while training; not replaced", target.string()));
  sync_tree(staging.path());
  fs::rename(staging.path(), target, ec);
  if (ec) throw IoError(target, "cannot move the trained model into place: " + ec.message());
  staging.keep();
  sync_folder(target.parent_path());
  log::info(fmt::format("wrote {} ({} steps, final loss {:.6g}); evaluate it with: limit-eval --model {}",
                        target.string(), total_steps, final_losses.value("loss", 0.0), shell_word(target.string())));
}

}  // namespace limit_eval::neural

void limit_eval_finetune(const limit_eval::neural::FinetuneOptions* options) { limit_eval::neural::finetune(*options); }
