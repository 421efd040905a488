// Limits on outside input (core/input_limits.hpp): a line over kMaxLineBytes and JSON nested over
// kMaxJsonDepth stop with the file and line; a 10-million-character document works. Inputs are
// generated here at run time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/input_limits.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/bm25_encoder.hpp"
#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/encode/registry.hpp"
#include "limit_eval/eval/trec_run.hpp"
#include "limit_eval/report/published_results.hpp"
#include "limit_eval/report/result_file.hpp"
#include "limit_eval/text/wordpiece.hpp"
#include "temp_folder.hpp"

namespace limit_eval {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

const fs::path kSourceDir = LIMIT_EVAL_SOURCE_DIR;

class InputLimitsTest : public test::TempFolderTest {};

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(FindJsonTooDeep, CountsBracketsOutsideStrings) {
  EXPECT_EQ(find_json_too_deep("{\"a\": [1, {\"b\": []}]}", 4), std::string_view::npos);
  EXPECT_EQ(find_json_too_deep("{\"a\": [1, {\"b\": []}]}", 3), 16U);
  EXPECT_EQ(find_json_too_deep("{\"a\": [1, {\"b\": []}]}", 2), 10U);
  EXPECT_EQ(find_json_too_deep("[\"[[[[\", \"\\\"[[[\"]", 1), std::string_view::npos);
  EXPECT_EQ(find_json_too_deep("[][][][]", 1), std::string_view::npos);
  EXPECT_EQ(find_json_too_deep(nested(kMaxJsonDepth)), std::string_view::npos);
  EXPECT_EQ(find_json_too_deep(nested(kMaxJsonDepth + 1)), kMaxJsonDepth);
  EXPECT_EQ(find_json_too_deep("]]]]}}}[[", 1), 8U);  // unbalanced closers do not hide depth
}

// A million levels would overflow the stack where nlohmann::json copies or prints the value.
TEST_F(InputLimitsTest, DeeplyNestedJsonLineStopsWithFileAndLine) {
  const auto path = write("corpus.jsonl", "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \"text\": \"y\", \"extra\": " +
                                              nested(1'000'000) + "}\n");
  try {
    (void)data::load_corpus(path);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2U);
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("nested more than 128 levels")));
  }
}

TEST_F(InputLimitsTest, DeeplyNestedJsonFilesStopWithTheirName) {
  const std::string deep = "{\"format\": \"limit-eval-results/1\",\n \"model\": " + nested(1'000'000) + "}";
  const auto result = write("results/limit-small/m.json", deep);
  try {
    (void)report::read_result_file(result, "limit-small/m.json");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2U);
    EXPECT_THAT(e.what(), AllOf(HasSubstr(result.string()), HasSubstr("nested more than")));
  }
  const auto published = write("published.json", deep);
  EXPECT_THROW((void)report::read_published_results(published), DataError);

  write("model/manifest.json", "{\"format\": \"limit-eval-model\", \"source\": " + nested(1'000'000) + "}");
  try {
    (void)encode::load_model_manifest(folder_ / "model");
    FAIL() << "no error";
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("manifest.json"), HasSubstr("nested more than")));
  }
  const auto registry = write("registry.json", "{\"models\": " + nested(1'000'000) + "}");
  try {
    (void)encode::read_model_registry(registry);
    FAIL() << "no error";
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(registry.string()), HasSubstr("nested more than")));
  }
}

// A 100 MB line is not a record: refused with the file and line, before any JSON parsing.
TEST_F(InputLimitsTest, HundredMegabyteLineStopsWithFileAndLine) {
  std::string contents = "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \"text\": \"";
  contents.append(100'000'000, 'x');
  contents += "\"}\n";
  const auto corpus = write("corpus.jsonl", contents);
  try {
    (void)data::load_corpus(corpus);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2U);
    EXPECT_THAT(e.what(), AllOf(HasSubstr(corpus.string()), HasSubstr("longer than the 64 MiB")));
  }
  const auto qrels = write("qrels.tsv", "query-id\tcorpus-id\tscore\nq\t" + std::string(100'000'000, 'd') + "\t1\n");
  try {
    (void)data::load_qrels(qrels);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2U);
  }
  const auto run = write("run.trec", "q Q0 d 1 1.0 t\nq Q0 " + std::string(100'000'000, 'd') + " 2 0.5 t\n");
  try {
    (void)eval::read_trec_run(run);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2U);
    EXPECT_THAT(e.what(), AllOf(HasSubstr(run.string()), HasSubstr("longer than the 64 MiB")));
  }
}

// Ten million characters (mostly two-byte ones: 18 MB of UTF-8) in one document: loaded, analysed by
// BM25 and tokenized (truncated) like any other document.
TEST_F(InputLimitsTest, TenMillionCharacterDocumentWorks) {
  std::string big;
  big.reserve(18'000'000);
  for (int i = 0; i < 2'000'000; ++i) big += "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9 ";  // "éééé "
  const auto corpus = write("corpus.jsonl", "{\"_id\": \"big\", \"text\": \"" + big +
                                                "\"}\n{\"_id\": \"small\", \"text\": \"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9 quokka\"}\n");
  const auto documents = data::load_corpus(corpus);
  ASSERT_EQ(documents.size(), 2U);
  EXPECT_EQ(documents[0].text.size(), big.size());

  encode::Bm25Encoder bm25(encode::Bm25Parameters{}, 1);
  const auto vectors = bm25.encode_documents(documents);
  ASSERT_EQ(vectors.rows, 2U);
  EXPECT_EQ(vectors.row_indices(0).size(), 1U);  // one distinct term
  EXPECT_EQ(vectors.row_indices(1).size(), 2U);

  const auto tokenizer = text::WordPieceTokenizer(kSourceDir / "tests" / "fixtures" / "bert-base-uncased-vocab.txt");
  EXPECT_EQ(tokenizer.encode(documents[0].text, true, 512).size(), 512U);
}

}  // namespace
}  // namespace limit_eval
