#include "limit_eval/text/sentencepiece_tokenizer.hpp"

#include <sentencepiece_processor.h>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/utf8.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace limit_eval::text {

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file,
                                               SentencePieceSettings settings)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  sentencepiece::util::Status status;
  try {
    status = processor_->Load(model_file.string());
  } catch (const std::exception& e) {
    // libsentencepiece throws (Darts' exception) on some malformed models instead of returning a status.
    throw ModelError(fmt::format("{}: cannot load SentencePiece model: {}", model_file.string(), e.what()));
  }
  if (!status.ok()) {
    throw ModelError(fmt::format("{}: cannot load SentencePiece model: {}", model_file.string(), status.ToString()));
  }
  const auto special_id = [&](const std::string& piece) {
    const int id = processor_->PieceToId(piece);
    if (id < 0 || processor_->IdToPiece(id) != piece) {
      throw ModelError(fmt::format("{}: the SentencePiece model has no '{}' piece", model_file.string(), piece));
    }
    return static_cast<std::uint32_t>(id);
  };
  bos_id_ = special_id(settings.bos_token);
  eos_id_ = special_id(settings.eos_token);
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<std::vector<std::uint32_t>> SentencePieceTokenizer::encode_batch(std::span<const std::string> texts,
                                                                            bool add_special_tokens,
                                                                            std::size_t max_length,
                                                                            std::size_t threads) const {
  std::vector<std::vector<std::uint32_t>> out(texts.size());
  parallel_for(texts.size(), threads, [&](std::size_t begin, std::size_t end) {
    std::vector<int> pieces;
    for (std::size_t i = begin; i < end; ++i) {
      if (const std::size_t bad = find_invalid_utf8(texts[i]); bad != std::string_view::npos) {
        throw InvalidUtf8Error(bad, i);
      }
      pieces.clear();
      const auto status = processor_->Encode(texts[i], &pieces);
      if (!status.ok()) throw ModelError(fmt::format("SentencePiece failed on text {}: {}", i, status.ToString()));
      std::size_t keep = pieces.size();
      if (max_length > 0) {
        const std::size_t room = add_special_tokens ? (max_length >= 2 ? max_length - 2 : 0) : max_length;
        keep = std::min(keep, room);
      }
      auto& ids = out[i];
      ids.reserve(keep + 2);
      if (add_special_tokens) ids.push_back(bos_id_);
      for (std::size_t p = 0; p < keep; ++p) ids.push_back(static_cast<std::uint32_t>(pieces[p]));
      if (add_special_tokens) ids.push_back(eos_id_);
    }
  });
  return out;
}

std::string SentencePieceTokenizer::token(std::uint32_t id) const {
  return id < id_limit() ? processor_->IdToPiece(static_cast<int>(id)) : std::string{};
}

std::size_t SentencePieceTokenizer::id_limit() const { return static_cast<std::size_t>(processor_->GetPieceSize()); }

}  // namespace limit_eval::text
