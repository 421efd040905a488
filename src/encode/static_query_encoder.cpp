#include "limit_eval/encode/static_query_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::encode {

StaticQueryEncoder::StaticQueryEncoder(const text::Tokenizer& tokenizer, std::vector<float> weights,
                                       std::size_t max_length, bool add_special_tokens, std::size_t threads)
    : tokenizer_(tokenizer),
      weights_(std::move(weights)),
      max_length_(max_length),
      add_special_tokens_(add_special_tokens),
      threads_(threads) {
  if (weights_.size() < tokenizer_.id_limit()) {
    throw ModelError(fmt::format("query weights cover {} token ids, but the tokenizer produces ids up to {}",
                                 weights_.size(), tokenizer_.id_limit() - 1));
  }
  if (weights_.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw ModelError(fmt::format("{} query weights: more columns than a sparse vector can have", weights_.size()));
  }
  for (std::size_t id = 0; id < weights_.size(); ++id) {
    if (!std::isfinite(weights_[id])) {
      throw ModelError(fmt::format("query weight {} of token id {} is not a finite number", weights_[id], id));
    }
  }
}

sparse::CsrMatrix StaticQueryEncoder::encode(std::span<const data::Query> queries) const {
  std::vector<std::string> texts;
  texts.reserve(queries.size());
  for (const auto& q : queries) texts.push_back(q.text);  // queries are not stripped
  auto token_ids = tokenizer_.encode_batch(texts, add_special_tokens_, max_length_, threads_);

  sparse::CsrBuilder builder(static_cast<std::uint32_t>(weights_.size()));
  std::vector<float> values;
  for (auto& ids : token_ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    // Tokens whose weight is 0 are dropped: a CSR row stores no zeros.
    std::erase_if(ids, [&](std::uint32_t id) { return weights_[id] == 0.0F; });
    values.clear();
    for (const std::uint32_t id : ids) values.push_back(weights_[id]);
    builder.add_sorted_row(ids, values);
  }
  return std::move(builder).finish();
}

nlohmann::json StaticQueryEncoder::describe() const {
  return {{"kind", "static_weights"}, {"max_seq_length", max_length_ > 0 ? nlohmann::json(max_length_) : nlohmann::json(nullptr)}, {"add_special_tokens", add_special_tokens_}};
}

}  // namespace limit_eval::encode
