// The SentencePiece tokenizer. First byte even: the rest is a text, tokenized with a small
// unigram model built here (InvalidUtf8Error is the only error). Odd: the rest is a model file
// (ModelError when libsentencepiece refuses it, or it lacks <s> and </s>), which then tokenizes a
// fixed text.
#include <bit>
#include <memory>

#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/text/sentencepiece_tokenizer.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace {

using limit_eval::text::SentencePieceTokenizer;

// Protocol buffer wire format, enough for sentencepiece's ModelProto.
void varint(std::string& out, std::uint64_t value) {
  for (; value >= 0x80; value >>= 7) out.push_back(static_cast<char>((value & 0x7F) | 0x80));
  out.push_back(static_cast<char>(value));
}
void bytes_field(std::string& out, int field, std::string_view bytes) {
  varint(out, (static_cast<std::uint64_t>(field) << 3) | 2);
  varint(out, bytes.size());
  out += bytes;
}
void varint_field(std::string& out, int field, std::uint64_t value) {
  varint(out, static_cast<std::uint64_t>(field) << 3);
  varint(out, value);
}
void float_field(std::string& out, int field, float value) {
  varint(out, (static_cast<std::uint64_t>(field) << 3) | 5);
  const auto bits = std::bit_cast<std::uint32_t>(value);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

// A unigram model: <unk>, <s>, </s>, then word pieces ("\u2581" marks a word start).
std::string tiny_model() {
  enum Type { normal = 1, unknown = 2, control = 3 };
  const std::pair<std::string_view, Type> specials[] = {{"<unk>", unknown}, {"<s>", control}, {"</s>", control}};
  const std::string_view pieces[] = {"\xE2\x96\x81", "\xE2\x96\x81who", "\xE2\x96\x81likes", "\xE2\x96\x81the", "s",
                                     "ing", "qu", "ok", "ka", "a", "b", "c", "d", "e", "i", "k", "l", "o", "q", "u",
                                     "w", "h", "?", "\xC3\xA9", "\xE4\xB8\xAD"};
  std::string model;
  for (const auto& [text, type] : specials) {
    std::string piece;
    bytes_field(piece, 1, text);
    float_field(piece, 2, 0.0F);
    varint_field(piece, 3, type);
    bytes_field(model, 1, piece);
  }
  float score = -1.0F;
  for (const auto text : pieces) {
    std::string piece;
    bytes_field(piece, 1, text);
    float_field(piece, 2, score);
    score -= 0.5F;
    bytes_field(model, 1, piece);
  }
  std::string trainer;
  varint_field(trainer, 3, 1);  // model_type UNIGRAM
  bytes_field(model, 2, trainer);
  std::string normalizer;
  bytes_field(normalizer, 1, "identity");
  bytes_field(model, 3, normalizer);
  return model;
}

void tokenize_all_ways(const SentencePieceTokenizer& tokenizer, std::string_view text) {
  const std::vector<std::string> texts{std::string(text)};
  try {
    (void)tokenizer.encode_batch(texts, true, 512, 1);
    (void)tokenizer.encode_batch(texts, false, 0, 1);
    (void)tokenizer.encode_batch(texts, true, 1, 1);
  } catch (const limit_eval::text::InvalidUtf8Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto rest = limit_eval::fuzz::as_text(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    static const SentencePieceTokenizer tokenizer(limit_eval::fuzz::write_file("tiny.model", tiny_model()));
    tokenize_all_ways(tokenizer, rest);
    return 0;
  }
  std::unique_ptr<SentencePieceTokenizer> tokenizer;
  try {
    tokenizer = std::make_unique<SentencePieceTokenizer>(limit_eval::fuzz::write_file("spiece.model", rest));
  } catch (const limit_eval::ModelError&) {
    return 0;
  }
  tokenize_all_ways(*tokenizer, "Who likes Quokkas? caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 <s> x");
  for (std::uint32_t id = 0; id < tokenizer->id_limit() && id < 64; ++id) (void)tokenizer->token(id);
  return 0;
}
