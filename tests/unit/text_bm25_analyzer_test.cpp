#include "limit_eval/text/bm25_analyzer.hpp"

#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "limit_eval/core/error.hpp"

namespace limit_eval::text {
namespace {

struct AnalyzerCase {
  std::string name;
  std::string text;
  std::vector<std::string> words;  // split_words: Python re.findall(r"(?u)\b\w\w+\b", text.lower())
  std::vector<std::string> terms;  // analyze: bm25s.tokenize + PyStemmer 3
};

// The expected values come from the Python reference (bm25s 0.2.14, PyStemmer 3.1.0), written by
// scripts/bm25_analyzer_golden.py, never by hand (the oracle test checks the file is current).
// Besides this table, the implementation was compared with the same reference on every code point
// assigned in Unicode 14 (as "xx" c "yy" and in final-sigma contexts: no difference) and on 58,695
// random mixed-script texts (no difference).
std::vector<AnalyzerCase> load_cases() {
  const std::string path = std::string(LIMIT_EVAL_SOURCE_DIR) + "/tests/fixtures/bm25/analyzer_cases.jsonl";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<AnalyzerCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto row = nlohmann::json::parse(line);
    cases.push_back({row.at("case").get<std::string>(), row.at("text").get<std::string>(),
                     row.at("words").get<std::vector<std::string>>(), row.at("terms").get<std::vector<std::string>>()});
  }
  return cases;
}

const std::vector<AnalyzerCase>& cases() {
  static const std::vector<AnalyzerCase> loaded = load_cases();
  return loaded;
}

class Bm25AnalyzerTable : public ::testing::TestWithParam<AnalyzerCase> {};

TEST_P(Bm25AnalyzerTable, SplitWordsMatchesPythonRegex) {
  EXPECT_EQ(Bm25Analyzer::split_words(GetParam().text), GetParam().words);
}

TEST_P(Bm25AnalyzerTable, AnalyzeMatchesBm25sTokenize) {
  Bm25Analyzer analyzer;
  EXPECT_EQ(analyzer.analyze(GetParam().text), GetParam().terms);
  // Second call goes through the stem cache and must agree.
  EXPECT_EQ(analyzer.analyze(GetParam().text), GetParam().terms);
}

INSTANTIATE_TEST_SUITE_P(PythonReference, Bm25AnalyzerTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<AnalyzerCase>& info) { return info.param.name; });

TEST(Bm25Analyzer, TableCoversTheDecisionPoints) {
  std::set<std::string> names;
  for (const auto& c : cases()) names.insert(c.name);
  for (const char* name : {"stopwords", "stem_is_stopword_words", "snowball3_limit_words", "unicode_case", "digits"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
}

TEST(Bm25Analyzer, IsSnowball3) { EXPECT_EQ(std::string(Bm25Analyzer::snowball_version()).substr(0, 2), "3."); }

TEST(Bm25Analyzer, HasBm25sEnglishStopwords) {
  const auto& stopwords = Bm25Analyzer::stopwords();
  EXPECT_EQ(stopwords.size(), 33U);
  const std::set<std::string> unique(stopwords.begin(), stopwords.end());
  EXPECT_EQ(unique.size(), 33U);
  for (const char* word : {"a", "the", "with", "will", "such", "into", "no", "not"}) EXPECT_TRUE(unique.contains(word)) << word;
  for (const char* word : {"who", "likes", "i", "he", "she"}) EXPECT_FALSE(unique.contains(word)) << word;
}

TEST(Bm25Analyzer, RejectsInvalidUtf8) {
  Bm25Analyzer analyzer;
  EXPECT_THROW((void)analyzer.analyze("abc \xff\xfe def"), Error);
  EXPECT_THROW((void)Bm25Analyzer::split_words("trunc\xe2\x82"), Error);
}

TEST(Bm25Analyzer, MovedAnalyzerStillStems) {
  Bm25Analyzer first;
  Bm25Analyzer second(std::move(first));
  EXPECT_EQ(second.analyze("Running dogs"), (std::vector<std::string>{"run", "dog"}));
}

TEST(Bm25Analyzer, OneAnalyzerPerThreadAgrees) {
  const std::string text = "Who likes Joshua Trees, Slide Rules and Oceanic Trenches?";
  const std::vector<std::string> expected = {"who", "like", "joshua", "tree", "slide", "rule", "ocean", "trench"};
  std::vector<std::vector<std::string>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      Bm25Analyzer analyzer;
      for (int repeat = 0; repeat < 200; ++repeat) results[t] = analyzer.analyze(text);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

}  // namespace
}  // namespace limit_eval::text
