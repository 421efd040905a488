// The WordPiece tokenizer. First byte even: the rest is a text, tokenized with bert-base-uncased's
// vocabulary under the settings of the second byte's two low bits (InvalidUtf8Error is the only error).
// Odd: the rest is a vocab.txt (ModelError when unusable), which then tokenizes a fixed text.
#include <array>
#include <memory>

#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace {

using limit_eval::text::WordPieceSettings;
using limit_eval::text::WordPieceTokenizer;

// Four variants, so that building bert-base-uncased's vocabulary (a second under the sanitizers)
// is paid four times at most.
WordPieceSettings settings_of(std::uint8_t bits) {
  WordPieceSettings settings;
  settings.lowercase = (bits & 1) == 0;
  if (bits & 2) {
    settings.strip_accents = settings.lowercase;
    settings.tokenize_chinese_chars = false;
    settings.clean_text = false;
    settings.max_input_chars_per_word = 5;
  }
  return settings;
}

const WordPieceTokenizer& bert_tokenizer(std::uint8_t bits) {
  static std::array<std::unique_ptr<WordPieceTokenizer>, 4> tokenizers;
  auto& tokenizer = tokenizers[bits & 3];
  if (!tokenizer) {
    tokenizer = std::make_unique<WordPieceTokenizer>(
        std::filesystem::path(LIMIT_EVAL_SOURCE_DIR) / "tests" / "fixtures" / "bert-base-uncased-vocab.txt",
        settings_of(bits));
  }
  return *tokenizer;
}

void tokenize_all_ways(const WordPieceTokenizer& tokenizer, std::string_view text) {
  try {
    (void)tokenizer.encode(text, true, 512);
    (void)tokenizer.encode(text, false, 0);
    (void)tokenizer.encode(text, true, 3);
    (void)tokenizer.tokenize(text);
    (void)tokenizer.normalize(text);
    (void)tokenizer.pre_tokenize(text);
  } catch (const limit_eval::text::InvalidUtf8Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto rest = limit_eval::fuzz::as_text(data + 2, size - 2);
  if ((data[0] & 1) == 0) {
    tokenize_all_ways(bert_tokenizer(data[1]), rest);
    return 0;
  }
  const auto path = limit_eval::fuzz::write_file("vocab.txt", rest);
  std::unique_ptr<WordPieceTokenizer> tokenizer;
  try {
    tokenizer = std::make_unique<WordPieceTokenizer>(path, settings_of(data[1]));
  } catch (const limit_eval::ModelError&) {
    return 0;
  }
  tokenize_all_ways(*tokenizer, "Who likes Quokkas? [CLS] un##able [MASK] caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 x");
  for (std::uint32_t id = 0; id < tokenizer->id_limit() && id < 64; ++id) (void)tokenizer->token(id);
  return 0;
}
