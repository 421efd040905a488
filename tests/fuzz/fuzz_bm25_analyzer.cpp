// The BM25 analyzer on any valid UTF-8 text (the data loader rejects the rest before it).
#include "fuzz_input.hpp"
#include "limit_eval/core/utf8.hpp"
#include "limit_eval/text/bm25_analyzer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const limit_eval::text::Bm25Analyzer analyzer;
  const auto text = limit_eval::fuzz::as_text(data, size);
  if (limit_eval::find_invalid_utf8(text) != std::string_view::npos) return 0;
  const auto terms = analyzer.analyze(text);
  const auto words = limit_eval::text::Bm25Analyzer::split_words(text);
  if (terms.size() > words.size()) __builtin_trap();  // stopwords only remove words
  return 0;
}
