#include "limit_eval/text/bm25_analyzer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>
#include <libstemmer.h>
#include <utf8proc.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace limit_eval::text {
namespace {

// bm25s' STOPWORDS_EN (bm25s/stopwords.py, selected by stopwords="en"/"english").
const std::vector<std::string> kEnglishStopwords = {
    "a",    "an",   "and",  "are",   "as",    "at",   "be",    "but",   "by",   "for",  "if",
    "in",   "into", "is",   "it",    "no",    "not",  "of",    "on",    "or",   "such", "that",
    "the",  "their", "then", "there", "these", "they", "this", "to",    "was",  "will", "with",
};

constexpr char32_t kCapitalSigma = 0x03A3;
constexpr char32_t kSmallSigma = 0x03C3;
constexpr char32_t kFinalSigma = 0x03C2;
constexpr char32_t kCapitalIWithDot = 0x0130;
constexpr char32_t kCombiningDotAbove = 0x0307;

// Python's `\w` for str patterns: str.isalnum() or '_', which is exactly the general categories
// L* and N* (checked on every code point against CPython 3.11). Combining marks (Mn, Mc, Me) are
// not word characters, so they split tokens.
bool is_word_char(char32_t c) {
  if (c < 0x80) {
    return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z') || (c >= U'0' && c <= U'9') || c == U'_';
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// Unicode Case_Ignorable: Mn, Me, Cf, Lm, Sk, plus Word_Break MidLetter/MidNumLet/Single_Quote.
// The explicit list was checked against CPython 3.11's database (every code point).
bool is_case_ignorable(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      break;
  }
  static constexpr std::array<char32_t, 17> kWordBreakIgnorable = {
      0x0027, 0x002E, 0x003A, 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019,
      0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
  return std::find(kWordBreakIgnorable.begin(), kWordBreakIgnorable.end(), c) != kWordBreakIgnorable.end();
}

// Unicode Cased (for characters that are not Case_Ignorable, the only ones the sigma rule asks
// about): Lu, Ll, Lt plus the non-Lm Other_Lowercase/Other_Uppercase characters.
bool is_cased(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
      return true;
    default:
      break;
  }
  static constexpr std::array<std::pair<char32_t, char32_t>, 7> kOtherCased = {{
      {0x00AA, 0x00AA}, {0x00BA, 0x00BA}, {0x2160, 0x217F}, {0x24B6, 0x24E9},
      {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
  }};
  return std::any_of(kOtherCased.begin(), kOtherCased.end(),
                     [c](const auto& range) { return range.first <= c && c <= range.second; });
}

// CPython's Final_Sigma test: a cased letter before (skipping case-ignorables) and no cased
// letter after (skipping case-ignorables).
bool is_final_sigma(const std::u32string& text, std::size_t position) {
  std::size_t before = position;
  while (before > 0 && is_case_ignorable(text[before - 1])) --before;
  if (before == 0 || !is_cased(text[before - 1])) return false;
  std::size_t after = position + 1;
  while (after < text.size() && is_case_ignorable(text[after])) ++after;
  return after == text.size() || !is_cased(text[after]);
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string decoded;
  decoded.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t offset = 0;
  while (offset < text.size()) {
    if (static_cast<unsigned char>(text[offset]) < 0x80) {
      decoded.push_back(static_cast<char32_t>(text[offset++]));
      continue;
    }
    utf8proc_int32_t code_point = 0;
    const utf8proc_ssize_t length =
        utf8proc_iterate(bytes + offset, static_cast<utf8proc_ssize_t>(text.size() - offset), &code_point);
    if (length <= 0) throw InvalidUtf8Error(offset);
    decoded.push_back(static_cast<char32_t>(code_point));
    offset += static_cast<std::size_t>(length);
  }
  return decoded;
}

void append_utf8(std::string& out, char32_t c) {
  utf8proc_uint8_t buffer[4];
  const utf8proc_ssize_t length = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buffer);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
}

// Python's str.lower(): the simple lowercase mapping (utf8proc_tolower) plus the two places where
// CPython's full mapping differs, U+0130 -> "i" U+0307 and the context-dependent final sigma.
// Remaining difference: utf8proc 2.8 carries Unicode 15.0 and CPython 3.11 Unicode 14.0, so
// characters first assigned in 15.0 may differ in case or category.
std::u32string python_lower(const std::u32string& text) {
  std::u32string lowered;
  lowered.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c < 0x80) {
      lowered.push_back(c >= U'A' && c <= U'Z' ? c + (U'a' - U'A') : c);
    } else if (c == kCapitalIWithDot) {
      lowered.push_back(U'i');
      lowered.push_back(kCombiningDotAbove);
    } else if (c == kCapitalSigma) {
      lowered.push_back(is_final_sigma(text, i) ? kFinalSigma : kSmallSigma);
    } else {
      lowered.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return lowered;
}

}  // namespace

struct Bm25Analyzer::Impl {
  sb_stemmer* stemmer = nullptr;
  std::unordered_set<std::string> stopword_set;
  // word -> stem; the corpus vocabulary is small next to its token count.
  std::unordered_map<std::string, std::string> stem_cache;

  Impl() : stopword_set(kEnglishStopwords.begin(), kEnglishStopwords.end()) {
    stemmer = sb_stemmer_new("english", "UTF_8");
    if (stemmer == nullptr) throw Error("BM25 analyzer: libstemmer has no English UTF-8 stemmer");
  }
  ~Impl() { sb_stemmer_delete(stemmer); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  const std::string& stem(const std::string& word) {
    auto found = stem_cache.find(word);
    if (found != stem_cache.end()) return found->second;
    const sb_symbol* stemmed = sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(word.data()),
                                               static_cast<int>(word.size()));
    if (stemmed == nullptr) throw Error("BM25 analyzer: libstemmer ran out of memory");
    const auto length = static_cast<std::size_t>(sb_stemmer_length(stemmer));
    return stem_cache.emplace(word, std::string(reinterpret_cast<const char*>(stemmed), length)).first->second;
  }
};

Bm25Analyzer::Bm25Analyzer() : impl_(std::make_unique<Impl>()) {}
Bm25Analyzer::~Bm25Analyzer() = default;
Bm25Analyzer::Bm25Analyzer(Bm25Analyzer&&) noexcept = default;
Bm25Analyzer& Bm25Analyzer::operator=(Bm25Analyzer&&) noexcept = default;

std::vector<std::string> Bm25Analyzer::split_words(std::string_view text) {
  const std::u32string lowered = python_lower(decode_utf8(text));
  // `\b\w\w+\b` matches exactly the maximal runs of word characters that are two or more code
  // points long: \b forbids starting or ending inside a run, and \w+ is greedy.
  std::vector<std::string> words;
  std::size_t position = 0;
  while (position < lowered.size()) {
    if (!is_word_char(lowered[position])) {
      ++position;
      continue;
    }
    const std::size_t run_begin = position;
    while (position < lowered.size() && is_word_char(lowered[position])) ++position;
    if (position - run_begin >= 2) {
      std::string word;
      for (std::size_t i = run_begin; i < position; ++i) append_utf8(word, lowered[i]);
      words.push_back(std::move(word));
    }
  }
  return words;
}

const std::vector<std::string>& Bm25Analyzer::stopwords() { return kEnglishStopwords; }

const char* Bm25Analyzer::snowball_version() { return LIMIT_EVAL_SNOWBALL_VERSION; }

std::vector<std::string> Bm25Analyzer::analyze(std::string_view text) const {
  // bm25s.tokenize: lowercase, split, drop stopwords (compared with the unstemmed lowercase
  // word), then stem what is left.
  std::vector<std::string> terms = split_words(text);
  std::erase_if(terms, [this](const std::string& word) { return impl_->stopword_set.contains(word); });
  for (std::string& term : terms) term = impl_->stem(term);
  return terms;
}

}  // namespace limit_eval::text
