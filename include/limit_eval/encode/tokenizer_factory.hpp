#pragma once

#include <memory>

#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/text/tokenizer.hpp"

namespace limit_eval::encode {

// The tokenizer a model folder's manifest describes (WordPiece or SentencePiece).
std::unique_ptr<text::Tokenizer> make_tokenizer(const TokenizerSpec& spec);

// Document text as the reference builds it for sentence-transformers: (title + " " + text).strip().
std::string document_text(const data::Document& document);

}  // namespace limit_eval::encode
