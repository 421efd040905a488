#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

// Fine-tuning an exported model (`limit-eval finetune`), the seed's recipe (DESIGN.md §5) by
// default: sentence-transformers 5.1's SparseEncoderTrainer with SpladeLoss(
// SparseMultipleNegativesRankingLoss, FlopsLoss regularizers), AdamW, a linear schedule with
// warm-up, gradient clipping and the NO_DUPLICATES batch sampler. This header is torch-free: the
// CLI fills the options and the neural plugin trains.
namespace limit_eval::neural {

struct FinetuneOptions {
  std::filesystem::path model;    // exported model folder with document_train.pt (export_model.py --trainable)
  std::filesystem::path train;    // BEIR folder: every judgement of score >= 1 is a (query, document) sample
  std::filesystem::path output;   // the fine-tuned model folder to write (must not exist)
  std::string name;               // the new model's name ("" = the output folder's name)
  std::string split = "test";     // qrels split of a BEIR folder with qrels/<split>.tsv
  std::optional<std::size_t> samples;     // first N samples after the seeded shuffle; empty = all
  std::optional<std::size_t> epochs;      // empty: the seed's choice for the sample count (see README)
  std::optional<std::size_t> batch_size;  // likewise
  double learning_rate = 5e-5;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double weight_decay = 0.0;
  double warmup_ratio = 0.1;
  double max_grad_norm = 1.0;
  double scale = 1.0;  // of the dot-product scores in the ranking loss
  double document_regularizer_weight = 3e-5;
  double query_regularizer_weight = 5e-5;
  std::optional<double> document_regularizer_threshold;  // FLOPS over embeddings with more non-zeros only
  std::optional<double> query_regularizer_threshold;
  // SparseEncoderTrainer's SpladeRegularizerWeightSchedulerCallback: the regularizer weights grow
  // from 0 to theirs over the first int(steps * ratio) steps, quadratically (or linearly).
  double regularizer_warmup_ratio = 1.0 / 3.0;
  std::string regularizer_schedule = "quadratic";  // quadratic | linear
  std::string activation;  // "" = the model's; relu | log1p_relu
  bool train_query_weights = true;
  std::uint64_t seed = 42;
  // The NO_DUPLICATES batch sampler's permutations: torch.randperm seeded sampler_seed + epoch.
  // sentence-transformers 5.1's trainer builds the sampler of a single dataset without its seed,
  // so the sampler's default, 0, is what the seed's runs used whatever their training seed.
  std::uint64_t sampler_seed = 0;
  std::string device = "auto";
  std::size_t threads = 0;
  std::size_t checkpoint_every = 0;  // 0: no checkpoints
  bool resume = false;
};

// The seed's epochs and batch size for N samples: batch max(1, N / 20) and as many epochs as make
// 80 steps (2 samples: 40 epochs of batch 1; 1,700: 4 epochs of batch 85).
std::size_t default_batch_size(std::size_t samples);
std::size_t default_epochs(std::size_t samples, std::size_t batch_size);

}  // namespace limit_eval::neural
