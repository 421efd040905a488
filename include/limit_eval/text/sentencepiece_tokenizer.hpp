#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "limit_eval/text/tokenizer.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace limit_eval::text {

struct SentencePieceSettings {
  std::string bos_token = "<s>";   // prepended with special tokens (the model's [CLS])
  std::string eos_token = "</s>";  // appended with special tokens (the model's [SEP])
};

// SentencePiece models (spiece.model / sentencepiece.bpe.model) through libsentencepiece.
class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws ModelError naming the file when it cannot be loaded or lacks the special tokens.
  SentencePieceTokenizer(const std::filesystem::path& model_file, SentencePieceSettings settings = {});
  ~SentencePieceTokenizer() override;

  [[nodiscard]] std::vector<std::vector<std::uint32_t>> encode_batch(std::span<const std::string> texts,
                                                                     bool add_special_tokens, std::size_t max_length,
                                                                     std::size_t threads) const override;
  [[nodiscard]] std::string token(std::uint32_t id) const override;
  [[nodiscard]] std::size_t id_limit() const override;
  [[nodiscard]] std::string kind() const override { return "sentencepiece"; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::uint32_t bos_id_ = 0;
  std::uint32_t eos_id_ = 0;
};

}  // namespace limit_eval::text
