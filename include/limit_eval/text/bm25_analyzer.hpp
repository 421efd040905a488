#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace limit_eval::text {

// The analyzer bm25s applies for MTEB and the LIMIT paper: lowercase (Python str.lower), tokens
// matching Python's `(?u)\b\w\w+\b`, minus bm25s' 33 English stopwords (removed before
// stemming), then the Snowball English stemmer at PyStemmer 3's Snowball version (3.x, linked
// statically: cmake/snowball.cmake).
class Bm25Analyzer {
 public:
  Bm25Analyzer();
  ~Bm25Analyzer();
  Bm25Analyzer(const Bm25Analyzer&) = delete;
  Bm25Analyzer& operator=(const Bm25Analyzer&) = delete;
  Bm25Analyzer(Bm25Analyzer&&) noexcept;
  Bm25Analyzer& operator=(Bm25Analyzer&&) noexcept;

  // Terms of `text` in order of appearance, duplicates kept. `text` must be valid UTF-8.
  [[nodiscard]] std::vector<std::string> analyze(std::string_view text) const;

  // The regex + lowercase step alone (no stopwords, no stemming); exposed for tests.
  [[nodiscard]] static std::vector<std::string> split_words(std::string_view text);
  [[nodiscard]] static const std::vector<std::string>& stopwords();
  // The Snowball release the stemmer was built from, e.g. "3.1.1".
  [[nodiscard]] static const char* snowball_version();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // stemmer state; not thread-safe, one analyzer per thread
};

}  // namespace limit_eval::text
