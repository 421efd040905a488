#include "limit_eval/neural/mlm_query_encoder.hpp"

#include <string>
#include <utility>
#include <vector>

#include "limit_eval/text/tokenizer.hpp"

namespace limit_eval::neural {

MlmQueryEncoder::MlmQueryEncoder(const text::Tokenizer& tokenizer, std::shared_ptr<const DocumentModel> model,
                                 encode::QueryEncoderSpec spec, bool shared_with_documents, std::size_t threads)
    : tokenizer_(tokenizer),
      model_(std::move(model)),
      spec_(std::move(spec)),
      shared_with_documents_(shared_with_documents),
      threads_(threads) {}

sparse::CsrMatrix MlmQueryEncoder::encode(std::span<const data::Query> queries) const {
  std::vector<std::string> texts;
  texts.reserve(queries.size());
  for (const auto& query : queries) texts.push_back(spec_.strip ? text::python_strip(query.text) : query.text);
  const auto token_ids = tokenizer_.encode_batch(texts, spec_.add_special_tokens, spec_.max_seq_length, threads_);
  return model_->encode(token_ids, "encoding queries");
}

nlohmann::json MlmQueryEncoder::describe() const {
  auto description = model_->describe();
  description["kind"] = "mlm";
  description["file"] = spec_.mlm.file.string();
  description["max_seq_length"] = spec_.max_seq_length;
  description["activation"] = spec_.mlm.activation;
  description["add_special_tokens"] = spec_.add_special_tokens;
  description["strip"] = spec_.strip;
  description["shared_with_document_encoder"] = shared_with_documents_;
  return description;
}

}  // namespace limit_eval::neural
