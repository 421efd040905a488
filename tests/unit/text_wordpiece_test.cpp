#include "limit_eval/text/wordpiece.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::text {
namespace {

using Ids = std::vector<std::uint32_t>;
using Tokens = std::vector<std::string>;
using ::testing::HasSubstr;

const std::filesystem::path kSourceDir = LIMIT_EVAL_SOURCE_DIR;
const std::filesystem::path kVocab = kSourceDir / "tests/fixtures/bert-base-uncased-vocab.txt";
const std::filesystem::path kGolden = kSourceDir / "tests/fixtures/tokenizer/golden.jsonl";

const WordPieceTokenizer& bert() {
  static const WordPieceTokenizer tokenizer(kVocab);
  return tokenizer;
}

// A vocabulary file in the test's temporary folder; removed with the object.
class TempVocab {
 public:
  explicit TempVocab(const std::string& content)
      : path_(std::filesystem::path(::testing::TempDir()) /
              ("wordpiece_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".txt")) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempVocab() { std::filesystem::remove(path_); }
  TempVocab(const TempVocab&) = delete;
  TempVocab& operator=(const TempVocab&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

const std::string kSpecialLines = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";

// ---------------------------------------------------------------- golden data

// tests/fixtures/tokenizer/golden.jsonl: ids from Hugging Face's BertTokenizerFast (tokenizers
// 0.22.0), written by scripts/tokenizer_golden.py: every LIMIT text, an edge-case table and random
// mixed-script strings.
TEST(WordPieceGolden, EveryCaseMatchesHuggingFace) {
  std::ifstream in(kGolden);
  ASSERT_TRUE(in) << "cannot open " << kGolden;
  std::size_t cases = 0;
  std::size_t mismatches = 0;
  std::string line;
  while (std::getline(in, line)) {
    const auto row = nlohmann::json::parse(line);
    const auto text = row.at("text").get<std::string>();
    const auto expected = row.at("ids").get<Ids>();
    const Ids actual = bert().encode(text, row.at("add_special_tokens").get<bool>(),
                                     row.at("max_length").get<std::size_t>());
    ++cases;
    if (actual != expected) {
      ++mismatches;
      ADD_FAILURE() << "case " << row.at("case").get<std::string>() << "\n  text: " << row.at("text").dump()
                    << "\n  expected: " << nlohmann::json(expected).dump()
                    << "\n  actual:   " << nlohmann::json(actual).dump();
      if (mismatches >= 20) break;
    }
  }
  EXPECT_EQ(mismatches, 0U);
  EXPECT_GE(cases, 2600U);  // the whole file was read
}

// ---------------------------------------------------------------- readable cases (values from HF)

TEST(WordPiece, BertBaseUncasedVocabulary) {
  EXPECT_EQ(bert().vocab_size(), 30522U);
  EXPECT_EQ(bert().id_limit(), 30522U);
  EXPECT_EQ(bert().pad_id(), 0U);
  EXPECT_EQ(bert().unk_id(), 100U);
  EXPECT_EQ(bert().cls_id(), 101U);
  EXPECT_EQ(bert().sep_id(), 102U);
  EXPECT_EQ(bert().mask_id(), 103U);
  EXPECT_EQ(bert().token_to_id("hello"), 7592U);
  EXPECT_EQ(bert().token_to_id("##ble"), 3468U);
  EXPECT_EQ(bert().token_to_id("##able"), 3085U);
  EXPECT_EQ(bert().token_to_id("Hello"), std::nullopt);
  EXPECT_EQ(bert().id_to_token(7592), "hello");
  EXPECT_EQ(bert().id_to_token(30522), std::nullopt);
}

TEST(WordPiece, GreedyLongestMatchFirst) {
  // bert-base-uncased has "una" and "##ffa": the BERT paper's "un ##aff ##able" used another vocab.
  EXPECT_EQ(bert().tokenize("unaffable"), (Tokens{"una", "##ffa", "##ble"}));
  EXPECT_EQ(bert().encode("unaffable", true, 0), (Ids{101, 14477, 20961, 3468, 102}));
  EXPECT_EQ(bert().tokenize("Hello, world!"), (Tokens{"hello", ",", "world", "!"}));
}

TEST(WordPiece, NormalizationLowercasesAndStripsAccents) {
  EXPECT_EQ(bert().tokenize("Café NAÏVE"), (Tokens{"cafe", "naive"}));
  EXPECT_EQ(bert().normalize("Ångström"), "angstrom");
  EXPECT_EQ(bert().normalize("İstanbul"), "istanbul");  // NFD + strip before lowercasing
  EXPECT_EQ(bert().tokenize("ẞ straße"), (Tokens{"ß", "st", "##raße"}));
  EXPECT_EQ(bert().normalize("a\tb\r\nc\x01" "d\u200Be\uFFFD" "f"), "a b  cdef");
  EXPECT_EQ(bert().normalize(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(bert().normalize("野口 Rika"), " 野  口  rika");
  EXPECT_EQ(bert().pre_tokenize("don't stop—now"), (Tokens{"don", "'", "t", "stop", "—", "now"}));
}

TEST(WordPiece, SpecialTokensInTheTextKeepTheirIds) {
  EXPECT_EQ(bert().encode("a[MASK]b", false, 0), (Ids{1037, 103, 1038}));
  EXPECT_EQ(bert().encode("[CLS][SEP]x", true, 0), (Ids{101, 101, 102, 1060, 102}));
  // Only the exact, case-sensitive spelling is special; the rest is normalized text.
  EXPECT_EQ(bert().tokenize("[mask]"), (Tokens{"[", "mask", "]"}));
}

TEST(WordPiece, LongAndUnknownWordsBecomeOneUnk) {
  EXPECT_EQ(bert().tokenize(std::string(100, 'x')).size(), 50U);  // "xx" + 49 x "##xx"
  EXPECT_EQ(bert().tokenize(std::string(101, 'x')), (Tokens{"[UNK]"}));
  // The limit counts code points after normalization, not bytes.
  std::string accented;
  for (int i = 0; i < 100; ++i) accented += "\u00E1";
  EXPECT_NE(bert().tokenize(accented), (Tokens{"[UNK]"}));
  EXPECT_EQ(bert().tokenize(accented + "\u00E1"), (Tokens{"[UNK]"}));
  EXPECT_EQ(bert().tokenize("hello\u2603"), (Tokens{"[UNK]"}));  // unmatchable tail: whole word
}

TEST(WordPiece, TruncationKeepsTheFirstPieces) {
  const std::string text = "hello world foo";
  EXPECT_EQ(bert().encode(text, true, 0), (Ids{101, 7592, 2088, 29379, 102}));
  EXPECT_EQ(bert().encode(text, true, 4), (Ids{101, 7592, 2088, 102}));
  EXPECT_EQ(bert().encode(text, true, 3), (Ids{101, 7592, 102}));
  EXPECT_EQ(bert().encode(text, true, 2), (Ids{101, 102}));
  EXPECT_EQ(bert().encode(text, true, 1), (Ids{101, 7592, 2088, 29379, 102}));  // HF: 1 - 2 wraps around
  EXPECT_EQ(bert().encode(text, false, 1), (Ids{7592}));
  EXPECT_EQ(bert().encode(text, false, 2), (Ids{7592, 2088}));
  EXPECT_EQ(bert().encode("unaffable", false, 2), (Ids{14477, 20961}));  // cuts inside a word
  EXPECT_EQ(bert().encode("", true, 0), (Ids{101, 102}));
  EXPECT_EQ(bert().encode(" \t\n", false, 0), Ids{});
}

TEST(WordPiece, EncodeAppendAndBatchAgreeWithEncode) {
  std::vector<std::string> texts = {"Who likes Quokkas?", "", "Geneva Durben likes Tapirs.", "İ ẞ 野口"};
  for (int i = 0; i < 200; ++i) texts.push_back("text number " + std::to_string(i) + " with Café");
  const auto batch = bert().encode_batch(texts, true, 8, 2);
  ASSERT_EQ(batch.size(), texts.size());
  Ids appended = {7};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(batch[i], bert().encode(texts[i], true, 8)) << texts[i];
    bert().encode_append(texts[i], true, 8, appended);
  }
  EXPECT_EQ(appended.front(), 7U);
}

TEST(WordPiece, SettingsFollowHuggingFace) {
  const std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "café", "Cafe",
                                          "##s"};
  WordPieceSettings cased;
  cased.lowercase = false;  // strip_accents unset: follows lowercase, so accents stay
  const auto cased_tokenizer = WordPieceTokenizer::from_tokens(vocab, cased);
  EXPECT_EQ(cased_tokenizer.tokenize("Cafe café Cafes"), (Tokens{"Cafe", "café", "Cafe", "##s"}));

  WordPieceSettings keep_accents;
  keep_accents.strip_accents = false;
  const auto accented = WordPieceTokenizer::from_tokens(vocab, keep_accents);
  EXPECT_EQ(accented.tokenize("CAFÉ"), (Tokens{"café"}));
  EXPECT_EQ(accented.normalize("İ"), "i\u0307");  // full lowercase mapping when nothing strips the dot

  WordPieceSettings raw;
  raw.clean_text = false;
  raw.tokenize_chinese_chars = false;
  const auto raw_tokenizer = WordPieceTokenizer::from_tokens(vocab, raw);
  EXPECT_EQ(raw_tokenizer.normalize("a\x01\tb野"), "a\x01\tb野");
  EXPECT_EQ(raw_tokenizer.pre_tokenize("a\x01\tb野"), (Tokens{"a\x01", "b野"}));
}

// ---------------------------------------------------------------- vocabulary files

TEST(WordPieceVocabulary, LinesAreReadLikeTransformers) {
  // Python universal newlines; trailing whitespace kept; an empty line is a token; a repeated token
  // takes the id of its last line and the earlier id has no token (what BertTokenizerFast does).
  const TempVocab file(kSpecialLines + "foo\r\nbar\rbaz \n\nfoo\n##s");
  const WordPieceTokenizer tokenizer(file.path());
  EXPECT_EQ(tokenizer.id_limit(), 11U);
  EXPECT_EQ(tokenizer.vocab_size(), 10U);
  EXPECT_EQ(tokenizer.token_to_id("foo"), 9U);
  EXPECT_EQ(tokenizer.id_to_token(5), std::nullopt);
  EXPECT_EQ(tokenizer.token_to_id("bar"), 6U);
  EXPECT_EQ(tokenizer.token_to_id("baz "), 7U);
  EXPECT_EQ(tokenizer.token_to_id("baz"), std::nullopt);
  EXPECT_EQ(tokenizer.token_to_id(""), 8U);
  EXPECT_EQ(tokenizer.token_to_id("##s"), 10U);
  EXPECT_EQ(tokenizer.encode("foo foos bar baz", true, 0), (Ids{2, 9, 9, 10, 6, 1, 3}));
}

TEST(WordPieceVocabulary, MissingFileIsAModelErrorNamingThePath) {
  const auto missing = std::filesystem::path(::testing::TempDir()) / "no-such-vocab.txt";
  try {
    WordPieceTokenizer tokenizer(missing);
    FAIL() << "no exception";
  } catch (const ModelError& error) {
    EXPECT_THAT(error.what(), HasSubstr(missing.string()));
  }
  EXPECT_THROW(WordPieceTokenizer(std::filesystem::path(::testing::TempDir())), ModelError);  // a folder
}

TEST(WordPieceVocabulary, UnusableVocabulariesAreModelErrors) {
  const TempVocab empty("");
  EXPECT_THROW(WordPieceTokenizer tokenizer(empty.path()), ModelError);
  const TempVocab no_unk("[PAD]\n[CLS]\n[SEP]\n[MASK]\nfoo\n");
  try {
    WordPieceTokenizer tokenizer(no_unk.path());
    FAIL() << "no exception";
  } catch (const ModelError& error) {
    EXPECT_THAT(error.what(), HasSubstr("[UNK]"));
    EXPECT_THAT(error.what(), HasSubstr(no_unk.path().string()));
  }
  const TempVocab not_utf8(kSpecialLines + "ok\nbad\xFF\n");
  try {
    WordPieceTokenizer tokenizer(not_utf8.path());
    FAIL() << "no exception";
  } catch (const ModelError& error) {
    EXPECT_THAT(error.what(), HasSubstr(":7:"));
  }
  // Without a mask token configured, a vocabulary without [MASK] is fine.
  WordPieceSettings no_mask;
  no_mask.mask_token.clear();
  const auto tokenizer = WordPieceTokenizer::from_tokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "x"}, no_mask);
  EXPECT_EQ(tokenizer.mask_id(), std::nullopt);
  EXPECT_EQ(tokenizer.encode("[MASK]", false, 0), (Ids{1, 1, 1}));  // "[" "mask" "]" all unknown
}

// ---------------------------------------------------------------- invalid input

TEST(WordPiece, InvalidUtf8IsReportedWithItsOffset) {
  const std::vector<std::pair<std::string, std::size_t>> cases = {
      {"ab\x80", 2},                 // stray continuation byte
      {"abc\xC0\xAF", 3},            // overlong '/'
      {"a\xED\xA0\x80", 1},          // UTF-16 surrogate
      {"\xF4\x90\x80\x80", 0},       // above U+10FFFF
      {"hello w\xE2\x82", 7},        // truncated sequence
      {"[MASK] \xFE", 7},            // after a special token
  };
  for (const auto& [text, offset] : cases) {
    try {
      (void)bert().encode(text, true, 2);  // truncation does not skip the check
      ADD_FAILURE() << "no exception for offset " << offset;
    } catch (const InvalidUtf8Error& error) {
      EXPECT_EQ(error.byte_offset(), offset);
      EXPECT_FALSE(error.text_index().has_value());
    }
  }
  const std::vector<std::string> texts = {"fine", "also fine", "bro\xC3"};
  try {
    (void)bert().encode_batch(texts, false, 0, 2);
    FAIL() << "no exception";
  } catch (const InvalidUtf8Error& error) {
    EXPECT_EQ(error.text_index(), 2U);
    EXPECT_EQ(error.byte_offset(), 3U);
    EXPECT_THAT(error.what(), HasSubstr("text 2"));
  }
  // The error is a limit_eval::Error, so main() reports it even when no caller translates it.
  EXPECT_THROW((void)bert().tokenize("\xFF"), Error);
}

// The override tables in wordpiece.cpp were measured against this utf8proc; another version may
// classify newly assigned characters differently from Hugging Face.
TEST(WordPiece, Utf8procVersionMatchesTheOverrideTables) {
  EXPECT_STREQ(utf8proc_version(), "2.8.0")
      << "regenerate the tables: scripts/tokenizer_golden.py unicode-overrides, then run the oracle tests";
}

}  // namespace
}  // namespace limit_eval::text
