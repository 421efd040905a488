#pragma once

#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "limit_eval/encode/encoder.hpp"
#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/encode/query_encoder.hpp"
#include "limit_eval/neural/document_model.hpp"
#include "limit_eval/text/tokenizer.hpp"

namespace limit_eval::neural {

// An exported sparse encoder: TorchScript MLM + SPLADE pooling for documents; for queries, static
// token weights (inference-free, the OpenSearch doc-* models) or the MLM again (siamese SPLADE), as
// the manifest's query_encoder.kind says; over the model's own vocabulary.
class NeuralSparseEncoder final : public encode::SparseEncoder {
 public:
  NeuralSparseEncoder(const std::filesystem::path& folder, const DeviceOptions& options);
  ~NeuralSparseEncoder() override;

  [[nodiscard]] std::string name() const override { return manifest_.name; }
  [[nodiscard]] nlohmann::json describe() const override;
  sparse::CsrMatrix encode_documents(std::span<const data::Document> corpus) override;
  sparse::CsrMatrix encode_queries(std::span<const data::Query> queries) override;
  [[nodiscard]] std::uint32_t dimensions() const override { return manifest_.vocab_size; }
  // Columns past the tokenizer's ids (an MLM larger than its vocabulary) are named "<id N>".
  [[nodiscard]] std::string term(std::uint32_t column) const override;

  [[nodiscard]] std::string device() const override { return document_model_->device(); }
  [[nodiscard]] std::string device_name() const override { return document_model_->device_name(); }
  [[nodiscard]] std::string dtype() const override { return document_model_->dtype(); }
  [[nodiscard]] std::size_t batch_size() const override { return document_model_->batch_size(); }
  [[nodiscard]] std::size_t max_batch_tokens() const override { return document_model_->max_batch_tokens(); }
  [[nodiscard]] bool documents_are_independent() const override { return true; }
  void set_stage_progress(ProgressBar* stage) override { stage_progress_ = stage; }
  // Tokenizes them on another thread while the model encodes the current documents.
  void prepare_next_documents(std::span<const data::Document> next) override;

 private:
  // static_weights: the query weights of a static_weights query encoder (unused otherwise).
  [[nodiscard]] std::unique_ptr<encode::QueryEncoder> make_query_encoder(std::vector<float> static_weights) const;
  [[nodiscard]] std::string query_encoder_summary() const;

  // Token ids of documents being tokenized ahead of the model (a queue of one chunk: tokenization
  // is a small share of the model's time, so one chunk ahead keeps the model from waiting).
  struct TokenizedAhead {
    std::span<const data::Document> documents;
    std::future<std::vector<std::vector<std::uint32_t>>> token_ids;
  };
  [[nodiscard]] std::vector<std::vector<std::uint32_t>> document_token_ids(std::span<const data::Document> corpus,
                                                                         std::size_t threads) const;
  void cancel_tokenized_ahead();

  std::span<const data::Document> next_documents_;
  std::optional<TokenizedAhead> tokenized_ahead_;
  ProgressBar* stage_progress_ = nullptr;  // limit-eval's bar of the encoding stage, if any
  encode::ModelManifest manifest_;
  DeviceOptions options_;
  std::size_t threads_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  std::shared_ptr<DocumentModel> document_model_;
  std::unique_ptr<encode::QueryEncoder> query_encoder_;
};

}  // namespace limit_eval::neural
