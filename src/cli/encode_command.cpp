#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/model_factory.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/vector_cache.hpp"

namespace limit_eval::cli {

namespace {

constexpr std::size_t kMaxShards = 1000000;

struct EncodeOptions {
  ModelOptions model;
  DataOptions data;
  CacheOptions cache;
  std::size_t threads = 0;  // the global --threads
  encode::ChunkShard shard;  // 0-based inside; --shard counts from 1
};

std::optional<std::size_t> parse_count(std::string_view text) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// --shard K/N: shard K of N, counted from 1 (1/4 ... 4/4, as a Slurm array --array=1-4 numbers its
// tasks). Returns why the text is not one, or the shard.
std::string parse_shard(const std::string& text, encode::ChunkShard* shard) {
  const auto slash = text.find('/');
  const auto k = slash == std::string::npos ? std::nullopt : parse_count(std::string_view(text).substr(0, slash));
  const auto n = slash == std::string::npos ? std::nullopt : parse_count(std::string_view(text).substr(slash + 1));
  if (!k || !n) return fmt::format("'{}' is not K/N: give shard K of N as two integers, e.g. 2/4", text);
  if (*n == 0 || *n > kMaxShards) return fmt::format("'{}': N must be from 1 to {}", text, kMaxShards);
  if (*k == 0) return fmt::format("'{}': shards are counted from 1: 1/{} to {}/{}", text, *n, *n, *n);
  if (*k > *n) return fmt::format("'{}': there is no shard {} of {} (K is from 1 to N)", text, *k, *n);
  if (shard != nullptr) *shard = {.index = *k - 1, .count = *n};
  return {};
}

void encode_corpus(const EncodeOptions& options) {
  Stopwatch total;
  const std::size_t threads = resolve_threads(options.threads);
  const auto manifest = model_manifest(options.model);
  if (manifest.empty()) {
    throw UsageError(
        "encode: BM25's document weights depend on the whole corpus (IDF, average length) and take milliseconds: "
        "they are never cached, so there is nothing to encode ahead. Evaluate it directly: limit-eval --model bm25");
  }
  const auto cache_dir = resolve_cache_dir(options.cache);
  if (cache_dir.empty()) throw UsageError("encode: no vector cache folder: give --cache-dir or set LIMIT_EVAL_CACHE_DIR");

  double data_loading_s = 0.0;
  const data::Dataset dataset = load_dataset(options.data, data_loading_s);
  const encode::VectorCacheOptions cache_options{.directory = cache_dir, .model_manifest = manifest};
  const std::size_t chunks = encode::chunk_count(dataset.corpus.size(), cache_options.chunk_documents);
  const auto [first, last] = encode::shard_chunks(chunks, options.shard);
  const std::size_t first_document = std::min(first * cache_options.chunk_documents, dataset.corpus.size());
  const std::size_t end_document = std::min(last * cache_options.chunk_documents, dataset.corpus.size());
  const std::string shard_name = fmt::format("{}/{}", options.shard.index + 1, options.shard.count);

  nlohmann::json summary = {{"dataset", dataset.name},
                            {"documents", dataset.corpus.size()},
                            {"shard",
                             {{"index", options.shard.index + 1},
                              {"count", options.shard.count},
                              {"chunks", {{"first", first}, {"end", last}, {"of", chunks}}},
                              {"documents", {{"first", first_document}, {"end", end_document}}}}}};
  if (first == last) {
    // More shards than chunks (a Slurm array sized for a larger corpus): not an error.
    spdlog::warn("shard {}: the corpus has {} chunk{} of {} documents, fewer than {} shards: nothing to encode",
                 shard_name, chunks, chunks == 1 ? "" : "s", cache_options.chunk_documents, options.shard.count);
    summary["model"] = options.model.model;
    summary["cache"] = nullptr;
    std::cout << summary.dump() << std::endl;
    return;
  }
  spdlog::info("shard {}: chunks {} to {} of {} (documents {} to {})", shard_name, first + 1, last, chunks,
               first_document + 1, end_document);

  Stopwatch model_clock;
  auto encoder = make_encoder(options.model, threads);
  spdlog::info("model {} ready ({:.3f} s)", encoder->name(), model_clock.seconds());

  encode::CacheReport report;
  encode::fill_vector_cache(*encoder, dataset.corpus, cache_options, options.shard, report);
  spdlog::info("shard {}: {} chunk{} encoded ({:.3f} s), {} already cached, in {}; an evaluation with the same "
               "--dtype, --batch-size, --max-batch-tokens and device type ({}) reads them ({:.3f} s in all)",
               shard_name, report.chunks_encoded, report.chunks_encoded == 1 ? "" : "s", report.encode_seconds,
               report.chunks_loaded, report.path.string(), encoder->device().substr(0, encoder->device().find(':')),
               total.seconds());
  summary["model"] = encoder->name();
  summary["cache"] = report.to_json();
  std::cout << summary.dump() << std::endl;
}

}  // namespace

void add_encode_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<EncodeOptions>();
  auto* command = app.add_subcommand(
      "encode",
      "Encode a neural model's corpus vectors into the vector cache, without evaluating; with --shard K/N only the "
      "K-th of N slices of the corpus's cache chunks, so that N processes (one per GPU, or a Slurm job array) fill "
      "one cache folder that the evaluation then reads");
  add_model_options(*command, options->model);
  add_data_options(*command, options->data);
  add_cache_options(*command, options->cache, /*offer_no_cache=*/false);
  command
      ->add_option_function<std::string>(
          "--shard", [options](const std::string& text) { (void)parse_shard(text, &options->shard); },
          "Encode only shard K of N (K from 1 to N): the K-th of N contiguous slices of the corpus's cache chunks "
          "(2048 documents each), equal to within a chunk (default: 1/1, the whole corpus)")
      ->check(CLI::Validator([](const std::string& text) { return parse_shard(text, nullptr); }, ""))
      ->type_name("K/N");
  add_global_options(*command, global);
  command->callback([options, &global] {
    options->threads = global.threads;
    encode_corpus(*options);
  });
}

}  // namespace limit_eval::cli
