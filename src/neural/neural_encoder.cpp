#include "limit_eval/neural/neural_encoder.hpp"

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/log.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/encode/tokenizer_factory.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace limit_eval::neural {

namespace {

// The loader has validated UTF-8 already; this names the record should a caller skip it.
template <typename Records>
[[noreturn]] void rethrow_with_id(const text::InvalidUtf8Error& e, const Records& records, const char* what) {
  const std::string id = e.text_index() && *e.text_index() < records.size() ? records[*e.text_index()].id : "?";
  throw Error(fmt::format("{} '{}': invalid UTF-8 at byte {}", what, id, e.byte_offset()));
}

}  // namespace

NeuralSparseEncoder::NeuralSparseEncoder(const std::filesystem::path& folder, const DeviceOptions& options)
    : manifest_(encode::load_model_manifest(folder)), threads_(resolve_threads(options.threads)) {
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
  query_encoder_ = std::make_unique<encode::StaticQueryEncoder>(*tokenizer_, encode::load_query_weights(manifest_),
                                                                manifest_.query.max_seq_length,
                                                                manifest_.query.add_special_tokens, threads_);
  document_model_ = std::make_unique<DocumentModel>(manifest_, options);
  log::info(fmt::format("model {} from {}: {} on {} ({}), {}, batch size {}", manifest_.name, folder.string(),
                        manifest_.document.architecture, document_model_->device(), document_model_->device_name(),
                        document_model_->dtype(), document_model_->batch_size()));
}

NeuralSparseEncoder::~NeuralSparseEncoder() = default;

std::string NeuralSparseEncoder::term(std::uint32_t column) const {
  return column < tokenizer_->id_limit() ? tokenizer_->token(column) : fmt::format("<id {}>", column);
}

nlohmann::json NeuralSparseEncoder::describe() const {
  return {{"kind", "inference-free sparse encoder"},
          {"folder", manifest_.folder.string()},
          {"source", manifest_.source},
          {"vocab_size", manifest_.vocab_size},
          {"document_encoder", document_model_->describe()},
          {"query_encoder",
           {{"kind", manifest_.query.kind},
            {"max_seq_length", manifest_.query.max_seq_length > 0 ? nlohmann::json(manifest_.query.max_seq_length)
                                                                   : nlohmann::json(nullptr)},
            {"add_special_tokens", manifest_.query.add_special_tokens}}},
          {"tokenizer", tokenizer_->kind()},
          {"manifest_versions", manifest_.raw.value("versions", nlohmann::json::object())}};
}

sparse::CsrMatrix NeuralSparseEncoder::encode_documents(std::span<const data::Document> corpus) {
  std::vector<std::string> texts;
  texts.reserve(corpus.size());
  for (const auto& doc : corpus) texts.push_back(encode::document_text(doc));
  std::vector<std::vector<std::uint32_t>> token_ids;
  try {
    token_ids = tokenizer_->encode_batch(texts, manifest_.document.add_special_tokens,
                                         manifest_.document.max_seq_length, threads_);
  } catch (const text::InvalidUtf8Error& e) {
    rethrow_with_id(e, corpus, "document");
  }
  // The document model's bar nests in the stage's bar of limit-eval (a bar of this plugin's copy
  // of the core module would not see it by itself).
  const ProgressScope scope(stage_progress_);
  try {
    return document_model_->encode(token_ids);
  } catch (const NonFiniteWeightError& e) {
    throw ModelError(fmt::format("document '{}': {}", corpus[e.document_index()].id, e.what()));
  }
}

sparse::CsrMatrix NeuralSparseEncoder::encode_queries(std::span<const data::Query> queries) {
  try {
    return query_encoder_->encode(queries);
  } catch (const text::InvalidUtf8Error& e) {
    rethrow_with_id(e, queries, "query");
  }
}

}  // namespace limit_eval::neural
