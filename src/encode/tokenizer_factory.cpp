#include "limit_eval/encode/tokenizer_factory.hpp"

#include "limit_eval/text/sentencepiece_tokenizer.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace limit_eval::encode {

std::unique_ptr<text::Tokenizer> make_tokenizer(const TokenizerSpec& spec) {
  if (spec.kind == "sentencepiece") {
    return std::make_unique<text::SentencePieceTokenizer>(
        spec.model_file, text::SentencePieceSettings{.bos_token = spec.cls_token, .eos_token = spec.sep_token});
  }
  text::WordPieceSettings settings;
  settings.lowercase = spec.lowercase;
  settings.strip_accents = spec.strip_accents;
  settings.tokenize_chinese_chars = spec.tokenize_chinese_chars;
  settings.clean_text = spec.clean_text;
  settings.unk_token = spec.unk_token;
  settings.cls_token = spec.cls_token;
  settings.sep_token = spec.sep_token;
  settings.pad_token = spec.pad_token;
  settings.mask_token = spec.mask_token;
  settings.continuing_subword_prefix = spec.continuing_subword_prefix;
  settings.max_input_chars_per_word = spec.max_input_chars_per_word;
  return std::make_unique<text::WordPieceTokenizer>(spec.vocab_file, settings);
}

std::string document_text(const data::Document& document) {
  return text::python_strip(document.title + " " + document.text);
}

}  // namespace limit_eval::encode
