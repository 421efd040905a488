#include "limit_eval/text/bm25_analyzer.hpp"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::text {
namespace {

struct AnalyzerCase {
  const char* name;
  const char* text;
  std::vector<std::string> words;  // split_words: Python re.findall(r"(?u)\b\w\w+\b", text.lower())
  std::vector<std::string> terms;  // analyze: bm25s.tokenize + PyStemmer
};

// Expected values were produced by the Python reference (Python 3.11.7, bm25s 0.2.14,
// PyStemmer 2.2.0.3), not written by hand:
//   words = re.findall(r"(?u)\b\w\w+\b", text.lower())
//   terms = bm25s.tokenize([text], stopwords="en", stemmer=Stemmer.Stemmer("english"),
//                          return_ids=False)[0]
// Invisible characters are written as \u escapes. Besides this table, the implementation was
// compared with the same reference on every code point assigned in Unicode 14 (as "xx" c "yy"
// and in final-sigma contexts: no difference) and on 58,695 random mixed-script texts (no
// difference).
const std::vector<AnalyzerCase> kCases = {
    {"empty", "",
     {},
     {}},
    {"whitespace_only", " \t\n\r  ",
     {},
     {}},
    {"punctuation", "Hello, world! (Testing) -- [brackets]; end.",
     {"hello", "world", "testing", "brackets", "end"},
     {"hello", "world", "test", "bracket", "end"}},
    {"apostrophes", "Don't stop O'Neil's rock’n’roll",
     {"don", "stop", "neil", "rock", "roll"},
     {"don", "stop", "neil", "rock", "roll"}},
    {"underscores", "snake_case __init__ _ a_b",
     {"snake_case", "__init__", "a_b"},
     {"snake_cas", "__init__", "a_b"}},
    {"digits", "Route 66 in 2024, pi=3.14, 1st x2",
     {"route", "66", "in", "2024", "pi", "14", "1st", "x2"},
     {"rout", "66", "2024", "pi", "14", "1st", "x2"}},
    {"single_chars", "I a b c d e f g 5 x",
     {},
     {}},
    {"hyphens", "state-of-the-art e-mail",
     {"state", "of", "the", "art", "mail"},
     {"state", "art", "mail"}},
    {"accented", "Café NAÏVE Straße résumé",
     {"café", "naïve", "straße", "résumé"},
     {"café", "naïv", "straße", "résumé"}},
    {"decomposed_accents", "e\u0301te\u0301 cafe\u0301",
     {"te", "cafe"},
     {"te", "cafe"}},
    {"capital_i_with_dot", "İstanbul İİ",
     {"stanbul"},
     {"stanbul"}},
    {"greek_final_sigma", "ΟΔΥΣΣΕΥΣ ΣΑΣ Σ",
     {"οδυσσευς", "σας"},
     {"οδυσσευς", "σας"}},
    {"greek_sigma_context", "ΑΣ'Β ΑΣ1 ΑΣ_Β",
     {"ασ", "ας1", "ας_β"},
     {"ασ", "ας1", "ας_β"}},
    {"devanagari_spacing_and_nonspacing_marks", "ह\u093fन\u094dद\u0940 नमस\u094dत\u0947",
     {"नमस"},
     {"नमस"}},
    {"cyrillic", "Москва БОЛЬШОЙ",
     {"москва", "большой"},
     {"москва", "большой"}},
    {"cjk", "東京タワー 漢字",
     {"東京タワー", "漢字"},
     {"東京タワー", "漢字"}},
    {"fullwidth_digits_superscript", "２０２４ x² ½",
     {"２０２４", "x²"},
     {"２０２４", "x²"}},
    {"ligature_and_digraph", "ﬁnance Ǆemal",
     {"ﬁnance", "ǆemal"},
     {"ﬁnanc", "ǆemal"}},
    {"zero_width_space", "zero\u200bwidth",
     {"zero", "width"},
     {"zero", "width"}},
    {"stopwords", "The cat is in the hat and it was not there",
     {"the", "cat", "is", "in", "the", "hat", "and", "it", "was", "not", "there"},
     {"cat", "hat"}},
    {"stemming", "running runs ran generalizations connected connection happily",
     {"running", "runs", "ran", "generalizations", "connected", "connection", "happily"},
     {"run", "run", "ran", "general", "connect", "connect", "happili"}},
    {"stemmer_exceptions", "skies dying news ugly early",
     {"skies", "dying", "news", "ugly", "early"},
     {"sky", "die", "news", "ugli", "earli"}},
    {"mixed_case_stopword", "THE This tHeY",
     {"the", "this", "they"},
     {}},
    {"stem_equals_stopword_kept", "ins ands thes",
     {"ins", "ands", "thes"},
     {"in", "and", "thes"}},
    {"possessive", "cat's dogs’",
     {"cat", "dogs"},
     {"cat", "dog"}},
};

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

INSTANTIATE_TEST_SUITE_P(PythonReference, Bm25AnalyzerTable, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<AnalyzerCase>& info) { return std::string(info.param.name); });

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
