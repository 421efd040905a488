#include "limit_eval/neural/neural_encoder.hpp"

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/log.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/encode/static_query_encoder.hpp"
#include "limit_eval/encode/tokenizer_factory.hpp"
#include "limit_eval/neural/mlm_query_encoder.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace limit_eval::neural {

namespace {

// The loader has validated UTF-8 already; this names the record should a caller skip it.
template <typename Records>
[[noreturn]] void rethrow_with_id(const text::InvalidUtf8Error& e, const Records& records, const char* what) {
  const std::string id = e.text_index() && *e.text_index() < records.size() ? records[*e.text_index()].id : "?";
  throw DataError(fmt::format("{} '{}': invalid UTF-8 at byte {}", what, id, e.byte_offset()));
}

}  // namespace

NeuralSparseEncoder::NeuralSparseEncoder(const std::filesystem::path& folder, const DeviceOptions& options)
    : manifest_(encode::load_model_manifest(folder)), options_(options), threads_(resolve_threads(options.threads)) {
  tokenizer_ = encode::make_tokenizer(manifest_.tokenizer);
  if (tokenizer_->id_limit() > manifest_.vocab_size) {
    throw ModelError(fmt::format("{}: the tokenizer has {} ids but the manifest's vocab_size is {}: token ids past "
                                 "the model's vocabulary",
                                 folder.string(), tokenizer_->id_limit(), manifest_.vocab_size));
  }
  if (tokenizer_->id_limit() < manifest_.vocab_size) {
    // GTE's configs size the MLM at 30528 for the 30522-token vocabulary. sentence-transformers then
    // gives 30528-dim documents and 30522-dim queries (and cannot score them together); the query
    // weights are padded with zeros, so the extra columns enter documents and never a score.
    log::info(fmt::format("{}: the MLM scores {} columns, the tokenizer has {} ids: columns {}..{} appear in document "
                          "vectors only (as <id N>)",
                          manifest_.name, manifest_.vocab_size, tokenizer_->id_limit(), tokenizer_->id_limit(),
                          manifest_.vocab_size - 1));
  }
  // Static query weights are read before the document module is loaded, so a bad weights file is
  // refused at once.
  std::vector<float> static_weights;
  if (manifest_.query.kind == "static_weights") static_weights = encode::load_query_weights(manifest_);
  document_model_ = std::make_shared<DocumentModel>(manifest_.document, manifest_.vocab_size, options);
  query_encoder_ = make_query_encoder(std::move(static_weights));
  log::info(fmt::format("model {} from {}: {} on {} ({}), {}, batch size {}; queries: {}", manifest_.name,
                        folder.string(), manifest_.document.architecture, document_model_->device(),
                        document_model_->device_name(), document_model_->dtype(), document_model_->batch_size(),
                        query_encoder_summary()));
}

std::unique_ptr<encode::QueryEncoder> NeuralSparseEncoder::make_query_encoder(std::vector<float> static_weights) const {
  const auto& query = manifest_.query;
  if (query.kind == "static_weights") {
    return std::make_unique<encode::StaticQueryEncoder>(*tokenizer_, std::move(static_weights),
                                                        query.max_seq_length, query.add_special_tokens, threads_);
  }
  // A siamese model names the document encoder's module and pooling: one loaded module serves both.
  const bool shared = query.mlm == manifest_.document;
  auto model = shared ? std::shared_ptr<const DocumentModel>(document_model_)
                      : std::make_shared<const DocumentModel>(query.mlm, manifest_.vocab_size, options_);
  return std::make_unique<MlmQueryEncoder>(*tokenizer_, std::move(model), query, shared, threads_);
}

std::string NeuralSparseEncoder::query_encoder_summary() const {
  const auto& query = manifest_.query;
  if (query.kind == "static_weights") return "static weights (inference-free)";
  return fmt::format("encoded by the MLM ({}, max length {}{})",
                     query.mlm == manifest_.document ? "the document encoder's" : query.mlm.file.filename().string(),
                     query.max_seq_length, query.add_special_tokens ? ", special tokens" : "");
}

NeuralSparseEncoder::~NeuralSparseEncoder() { cancel_tokenized_ahead(); }

std::string NeuralSparseEncoder::term(std::uint32_t column) const {
  return column < tokenizer_->id_limit() ? tokenizer_->token(column) : fmt::format("<id {}>", column);
}

nlohmann::json NeuralSparseEncoder::describe() const {
  nlohmann::json description = {{"kind", manifest_.query.kind == "mlm" ? "sparse encoder, queries by the MLM" : "inference-free sparse encoder"},
          {"folder", manifest_.folder.string()},
          {"source", manifest_.source},
          {"vocab_size", manifest_.vocab_size},
          {"document_encoder", document_model_->describe()},
          {"query_encoder", query_encoder_->describe()},
          {"tokenizer", tokenizer_->kind()},
          {"manifest_versions", manifest_.raw.value("versions", nlohmann::json::object())}};
  // A fine-tuned model (limit-eval finetune): the report finds it by training.samples.
  if (const auto training = manifest_.raw.find("training"); training != manifest_.raw.end()) {
    description["training"] = *training;
  }
  return description;
}

std::vector<std::vector<std::uint32_t>> NeuralSparseEncoder::document_token_ids(std::span<const data::Document> corpus,
                                                                              std::size_t threads) const {
  std::vector<std::string> texts;
  texts.reserve(corpus.size());
  for (const auto& doc : corpus) texts.push_back(encode::document_text(doc));
  try {
    return tokenizer_->encode_batch(texts, manifest_.document.add_special_tokens, manifest_.document.max_seq_length,
                                    threads);
  } catch (const text::InvalidUtf8Error& e) {
    rethrow_with_id(e, corpus, "document");
  }
}

void NeuralSparseEncoder::cancel_tokenized_ahead() {
  if (!tokenized_ahead_) return;
  // Waits for it: its thread reads the documents, which the caller may free next. Its errors
  // concern documents nobody encodes.
  try {
    (void)tokenized_ahead_->token_ids.get();
  } catch (const std::exception&) {
  }
  tokenized_ahead_.reset();
}

void NeuralSparseEncoder::prepare_next_documents(std::span<const data::Document> next) {
  next_documents_ = next;
  if (next.empty()) cancel_tokenized_ahead();
}

sparse::CsrMatrix NeuralSparseEncoder::encode_documents(std::span<const data::Document> corpus) {
  std::vector<std::vector<std::uint32_t>> token_ids;
  if (tokenized_ahead_ && tokenized_ahead_->documents.data() == corpus.data() &&
      tokenized_ahead_->documents.size() == corpus.size()) {
    auto ahead = std::move(*tokenized_ahead_);
    tokenized_ahead_.reset();
    const Stopwatch wait;
    token_ids = ahead.token_ids.get();
    log::debug(fmt::format("{} documents tokenized ahead; the model waited {:.3f} s for them", corpus.size(),
                           wait.seconds()));
  } else {
    cancel_tokenized_ahead();
    token_ids = document_token_ids(corpus, threads_);
  }
  if (!next_documents_.empty()) {
    // On a GPU the cores are free for the tokenizer; on the CPU the model uses them all, and one
    // thread tokenizes far faster than the model encodes.
    const std::size_t threads = document_model_->device() == "cpu" ? 1 : threads_;
    auto tokenize = [this, next = next_documents_, threads] {
      const Stopwatch clock;
      auto ids = document_token_ids(next, threads);
      log::debug(fmt::format("tokenized {} documents ahead on {} thread{} ({:.3f} s)", next.size(), threads,
                             threads == 1 ? "" : "s", clock.seconds()));
      return ids;
    };
    tokenized_ahead_ = TokenizedAhead{next_documents_, std::async(std::launch::async, std::move(tokenize))};
    next_documents_ = {};
  }
  // The document model's bar nests in the stage's bar of limit-eval (a bar of this plugin's copy
  // of the core module would not see it by itself).
  const ProgressScope scope(stage_progress_);
  try {
    return document_model_->encode(token_ids);
  } catch (const PooledVectorError& e) {
    throw ModelError(fmt::format("document '{}': {}", corpus[e.document_index()].id, e.what()));
  }
}

sparse::CsrMatrix NeuralSparseEncoder::encode_queries(std::span<const data::Query> queries) {
  try {
    return query_encoder_->encode(queries);
  } catch (const text::InvalidUtf8Error& e) {
    rethrow_with_id(e, queries, "query");
  } catch (const PooledVectorError& e) {
    throw ModelError(fmt::format("query '{}': {}", queries[e.document_index()].id, e.what()));
  }
}

}  // namespace limit_eval::neural
