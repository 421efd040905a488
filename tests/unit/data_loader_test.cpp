#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "limit_eval/core/error.hpp"
#include "limit_eval/data/dataset.hpp"
#include "temp_folder.hpp"

namespace limit_eval::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kSourceDir = LIMIT_EVAL_SOURCE_DIR;

using test::write_file;

std::size_t count_judgements(const Qrels& qrels) {
  std::size_t count = 0;
  for (const auto& [query_id, judged_docs] : qrels) count += judged_docs.size();
  return count;
}

const std::string kValidCorpus =
    "{\"_id\": \"d1\", \"title\": \"First\", \"text\": \"Alice likes quokkas.\"}\n"
    "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"Bob likes tapirs.\"}\n"
    "{\"_id\": \"d3\", \"text\": \"Carol likes otters.\"}\n";
const std::string kValidQueries =
    "{\"_id\": \"q1\", \"text\": \"Who likes quokkas?\"}\n"
    "{\"_id\": \"q2\", \"text\": \"Who likes tapirs?\"}\n";
const std::string kValidQrels =
    "{\"query-id\": \"q1\", \"corpus-id\": \"d1\", \"score\": 1}\n"
    "{\"query-id\": \"q2\", \"corpus-id\": \"d2\", \"score\": 1}\n";
const std::string kValidTsvQrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n";

// Each test gets its own folder under the system temp folder, removed afterwards.
class DataLoaderTest : public test::TempFolderTest {
 protected:
  // A valid dataset folder named `name` (jsonl qrels unless tsv_qrels).
  fs::path make_dataset(const std::string& name = "tiny", bool tsv_qrels = false) {
    const fs::path root = folder_ / name;
    write_file(root / "corpus.jsonl", kValidCorpus);
    write_file(root / "queries.jsonl", kValidQueries);
    if (tsv_qrels) {
      write_file(root / "qrels" / "test.tsv", kValidTsvQrels);
    } else {
      write_file(root / "qrels.jsonl", kValidQrels);
    }
    return root;
  }
};

TEST_F(DataLoaderTest, LoadsLimitSmall) {
  const Dataset dataset = load_dataset(kSourceDir / "data" / "limit-small");
  EXPECT_EQ(dataset.name, "limit-small");
  EXPECT_EQ(dataset.corpus.size(), 46U);
  EXPECT_EQ(dataset.queries.size(), 1000U);
  EXPECT_EQ(count_judgements(dataset.qrels), 2000U);
  EXPECT_EQ(dataset.qrels.size(), 1000U);
  EXPECT_EQ(dataset.corpus.front().id, "Geneva Durben");
  EXPECT_EQ(dataset.corpus.front().title, "");
  EXPECT_THAT(dataset.corpus.front().text, ::testing::StartsWith("Geneva Durben likes Quokkas"));
  EXPECT_EQ(dataset.queries.front().id, "query_0");
  EXPECT_EQ(dataset.queries.front().text, "Who likes Joshua Trees?");
  EXPECT_EQ(dataset.qrels.at("query_0").at("Geneva Durben"), 1);

  const QrelsReport& report = dataset.qrels_report;
  EXPECT_EQ(report.path.filename(), "qrels.jsonl");
  EXPECT_EQ(report.lines, 2000U);
  EXPECT_EQ(report.judgements, 2000U);
  EXPECT_EQ(report.unknown_query_judgements, 0U);
  EXPECT_EQ(report.unknown_doc_judgements, 0U);
  EXPECT_EQ(report.unknown_queries, 0U);
  EXPECT_EQ(report.unknown_docs, 0U);
  EXPECT_EQ(report.queries_without_judgements, 0U);
}

TEST_F(DataLoaderTest, LoadsBeirFolderWithTsvQrels) {
  const fs::path root = folder_ / "beir-like";
  // CRLF line endings, no final newline, a numeric-looking id, a null title, extra fields, non-ASCII text.
  write_file(root / "corpus.jsonl",
             "{\"_id\": \"d1\", \"title\": \"Caf\xC3\xA9\", \"text\": \"\xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80\", "
             "\"metadata\": {\"url\": \"x\"}}\r\n"
             "{\"_id\": \"42\", \"title\": null, \"text\": \"\"}\r\n"
             "{\"_id\": \"d3\", \"text\": \"third\"}");
  write_file(root / "queries.jsonl",
             "{\"_id\": \"q1\", \"text\": \"first\", \"metadata\": {}}\n{\"_id\": \"7\", \"text\": \"x\"}\n");
  write_file(root / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\r\nq1\td1\t2\r\nq1\t42\t0\r\n7\td3\t 1 \r\n");
  write_file(root / "qrels" / "dev.tsv", "query-id\tcorpus-id\tscore\nq1\td3\t1\n");

  const Dataset dataset = load_dataset(root);
  EXPECT_EQ(dataset.name, "beir-like");
  ASSERT_EQ(dataset.corpus.size(), 3U);
  EXPECT_EQ(dataset.corpus[0].title, "Caf\xC3\xA9");
  EXPECT_EQ(dataset.corpus[0].text, "\xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(dataset.corpus[1].id, "42");
  EXPECT_EQ(dataset.corpus[1].title, "");
  EXPECT_EQ(dataset.corpus[1].text, "");
  EXPECT_EQ(dataset.corpus[2].id, "d3");
  ASSERT_EQ(dataset.queries.size(), 2U);
  EXPECT_EQ(dataset.queries[1].id, "7");
  EXPECT_EQ(dataset.qrels.at("q1").at("d1"), 2);
  EXPECT_EQ(dataset.qrels.at("q1").at("42"), 0);
  EXPECT_EQ(dataset.qrels.at("7").at("d3"), 1);
  EXPECT_EQ(dataset.qrels_report.path, root / "qrels" / "test.tsv");
  EXPECT_EQ(dataset.qrels_report.lines, 3U);
  EXPECT_EQ(dataset.qrels_report.judgements, 3U);
  EXPECT_EQ(dataset.qrels_report.unknown_doc_judgements, 0U);

  const Dataset dev = load_dataset(root, "dev");
  EXPECT_EQ(count_judgements(dev.qrels), 1U);
  EXPECT_EQ(dev.qrels_report.queries_without_judgements, 1U);
}

TEST_F(DataLoaderTest, PrefersJsonlQrelsOverTsv) {
  const fs::path root = make_dataset("both", /*tsv_qrels=*/true);
  write_file(root / "qrels.jsonl", "{\"query-id\": \"q1\", \"corpus-id\": \"d3\", \"score\": 2.0}\n");
  const Dataset dataset = load_dataset(root);
  EXPECT_EQ(dataset.qrels_report.path, root / "qrels.jsonl");
  EXPECT_EQ(count_judgements(dataset.qrels), 1U);
  EXPECT_EQ(dataset.qrels.at("q1").at("d3"), 2);  // integral float accepted
}

TEST_F(DataLoaderTest, CountsUnknownIdsWithoutDroppingThem) {
  const fs::path root = make_dataset();
  write_file(root / "qrels.jsonl",
             "{\"query-id\": \"q1\", \"corpus-id\": \"d1\", \"score\": 1}\n"
             "{\"query-id\": \"q1\", \"corpus-id\": \"ghost-doc\", \"score\": 1}\n"
             "{\"query-id\": \"ghost-q\", \"corpus-id\": \"d2\", \"score\": 1}\n"
             "{\"query-id\": \"ghost-q\", \"corpus-id\": \"ghost-doc\", \"score\": 1}\n"
             "{\"query-id\": \"ghost-q2\", \"corpus-id\": \"other-ghost\", \"score\": 0}\n");
  const Dataset dataset = load_dataset(root);
  EXPECT_EQ(count_judgements(dataset.qrels), 5U);
  const QrelsReport& report = dataset.qrels_report;
  EXPECT_EQ(report.lines, 5U);
  EXPECT_EQ(report.judgements, 5U);
  EXPECT_EQ(report.unknown_query_judgements, 3U);
  EXPECT_EQ(report.unknown_queries, 2U);
  EXPECT_EQ(report.unknown_doc_judgements, 3U);
  EXPECT_EQ(report.unknown_docs, 2U);
  EXPECT_EQ(report.queries_without_judgements, 1U);  // q2
}

TEST_F(DataLoaderTest, ResolvesDatasetNamesAndPaths) {
  const fs::path root = make_dataset("named");
  EXPECT_EQ(resolve_dataset("named", folder_), folder_ / "named");
  EXPECT_EQ(resolve_dataset(root.string(), "/nonexistent"), root);
  try {
    resolve_dataset("no-such-dataset", folder_);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no-such-dataset"));
    EXPECT_THAT(e.what(), HasSubstr((folder_ / "no-such-dataset").string()));
  }
}

TEST_F(DataLoaderTest, MissingLimitCorpusNamesTheDownloadCommand) {
  const fs::path root = folder_ / "limit";
  fs::create_directories(root);
  fs::copy_file(kSourceDir / "data" / "limit" / "queries.jsonl", root / "queries.jsonl");
  fs::copy_file(kSourceDir / "data" / "limit" / "qrels.jsonl", root / "qrels.jsonl");
  for (const fs::path& path : {root, fs::path(root.string() + "/")}) {
    try {
      load_dataset(path);
      FAIL() << "expected IoError";
    } catch (const IoError& e) {
      EXPECT_THAT(e.what(), HasSubstr("corpus.jsonl"));
      EXPECT_THAT(e.what(), HasSubstr("scripts/download_data.sh limit"));
    }
  }
}

TEST_F(DataLoaderTest, MissingCorpusOfAnotherDatasetNamesOnlyTheFile) {
  const fs::path root = make_dataset("other");
  fs::remove(root / "corpus.jsonl");
  try {
    load_dataset(root);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(e.path(), root / "corpus.jsonl");
    EXPECT_THAT(e.what(), HasSubstr((root / "corpus.jsonl").string()));
    EXPECT_THAT(e.what(), Not(HasSubstr("download")));
  }
}

TEST_F(DataLoaderTest, MissingQrelsListsBothCandidates) {
  const fs::path root = make_dataset("noqrels");
  fs::remove(root / "qrels.jsonl");
  try {
    load_dataset(root, "dev");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr((root / "qrels.jsonl").string()));
    EXPECT_THAT(e.what(), HasSubstr((root / "qrels" / "dev.tsv").string()));
  }
}

TEST_F(DataLoaderTest, UnreadableFileIsAnIoError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their permissions";
  const fs::path root = make_dataset("locked");
  fs::permissions(root / "queries.jsonl", fs::perms::none);
  try {
    load_dataset(root);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("queries.jsonl"));
    EXPECT_THAT(e.what(), HasSubstr("ermission"));
  }
}

// --- TREC qrels (trec_eval's "qid iter docno rel") ----------------------------------------------

TEST_F(DataLoaderTest, TrecQrelsAreDetectedWhateverTheExtension) {
  // Blanks or tabs between fields, the iteration column ignored, negative and graded relevance kept.
  const std::string trec = "q1 0 d1 1\nq1\t0\td2\t0\nq2  Q0  d1 -1\r\nq2 0 d3 2\n";
  for (const char* name : {"qrels.txt", "qrels.test", "qrels", "qrels.tsv"}) {
    SCOPED_TRACE(name);
    write_file(folder_ / name, trec);
    QrelsReport report;
    const Qrels qrels = load_qrels(folder_ / name, &report);
    EXPECT_EQ(count_judgements(qrels), 4U);
    EXPECT_EQ(qrels.at("q1").at("d1"), 1);
    EXPECT_EQ(qrels.at("q1").at("d2"), 0);
    EXPECT_EQ(qrels.at("q2").at("d1"), -1);
    EXPECT_EQ(qrels.at("q2").at("d3"), 2);
    EXPECT_EQ(report.lines, 4U);
    EXPECT_EQ(report.judgements, 4U);
  }
}

TEST_F(DataLoaderTest, ExplicitQrelsFormatIsObeyed) {
  write_file(folder_ / "qrels.dat", "q1 0 d1 1\n");
  EXPECT_EQ(load_qrels(folder_ / "qrels.dat", nullptr, QrelsFormat::trec).at("q1").at("d1"), 1);
  // The same line read as BEIR's TSV is a missing header.
  EXPECT_THROW(load_qrels(folder_ / "qrels.dat", nullptr, QrelsFormat::beir_tsv), DataError);
  EXPECT_THROW(load_qrels(folder_ / "qrels.dat", nullptr, QrelsFormat::jsonl), DataError);
  // BEIR TSV and jsonl are still detected without an extension.
  write_file(folder_ / "beir", "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
  EXPECT_EQ(load_qrels(folder_ / "beir").at("q1").at("d1"), 1);
  write_file(folder_ / "json", "{\"query-id\": \"q1\", \"corpus-id\": \"d1\", \"score\": 1}\n");
  EXPECT_EQ(load_qrels(folder_ / "json").at("q1").at("d1"), 1);
}

TEST_F(DataLoaderTest, UndetectableQrelsFormatNamesTheOption) {
  write_file(folder_ / "qrels.txt", "q1 d1\n");
  try {
    load_qrels(folder_ / "qrels.txt");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 1U);
    EXPECT_THAT(e.what(), HasSubstr("--qrels-format"));
  }
}

TEST_F(DataLoaderTest, TrecQrelsAreValidatedStrictly) {
  struct Case {
    const char* name;
    std::string contents;
    std::size_t line;
    const char* message;
  };
  const std::vector<Case> cases{
      {"three fields", "q1 0 d1 1\nq1 d2 1\n", 2, "expected 4 fields"},
      {"five fields", "q1 0 d1 1\nq1 0 d2 1 x\n", 2, "expected 4 fields"},
      {"non-integer relevance", "q1 0 d1 1\nq1 0 d2 1.5\n", 2, "relevance must be an integer"},
      {"duplicate", "q1 0 d1 1\nq1 0 d2 1\nq1 1 d1 0\n", 3, "duplicate judgement for query 'q1' and document 'd1' (first on line 1)"},
      {"blank line", "q1 0 d1 1\n\nq1 0 d2 1\n", 2, "blank line"},
      {"invalid UTF-8", "q1 0 d1 1\nq1 0 d\xFF 1\n", 2, "invalid UTF-8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    write_file(folder_ / "qrels.txt", c.contents);
    try {
      load_qrels(folder_ / "qrels.txt", nullptr, QrelsFormat::trec);
      ADD_FAILURE() << "expected DataError";
    } catch (const DataError& e) {
      EXPECT_EQ(e.line(), c.line);
      EXPECT_THAT(e.what(), HasSubstr(c.message));
    }
  }
}

// --- Table of bad inputs -------------------------------------------------------------------------

enum class Expected { data_error, io_error };

struct BadInput {
  std::string name;
  std::string file;                        // relative to the dataset folder; replaces the valid file
  std::string contents;                    // ignored when as_folder
  std::vector<std::string> message_parts;  // all must appear in the message
  std::size_t line = 0;                    // expected DataError::line() (0: not line-based)
  Expected expected = Expected::data_error;
  bool tsv_qrels = false;
  bool as_folder = false;  // put a folder where the file should be
};

void PrintTo(const BadInput& input, std::ostream* out) { *out << input.name; }

std::vector<BadInput> bad_inputs() {
  const std::string d1 = "{\"_id\": \"d1\", \"text\": \"one\"}\n";
  const std::string q1 = "{\"_id\": \"q1\", \"text\": \"one\"}\n";
  const std::string j1 = "{\"query-id\": \"q1\", \"corpus-id\": \"d1\", \"score\": 1}\n";
  const std::string header = "query-id\tcorpus-id\tscore\n";
  return {
      // corpus.jsonl
      {"CorpusMalformedJson",
       "corpus.jsonl",
       d1 + "{\"_id\": \"d2\", \"text\": \"two\"\n",
       {"corpus.jsonl:2", "malformed JSON", "column"},
       2},
      {"CorpusTrailingGarbage",
       "corpus.jsonl",
       d1 + "{\"_id\": \"d2\", \"text\": \"two\"} x\n",
       {"corpus.jsonl:2", "malformed JSON"},
       2},
      {"CorpusNotAnObject",
       "corpus.jsonl",
       "[\"d1\", \"one\"]\n",
       {"corpus.jsonl:1", "expected a JSON object, found array"},
       1},
      {"CorpusMissingText",
       "corpus.jsonl",
       d1 + "{\"_id\": \"d2\", \"title\": \"t\"}\n",
       {"corpus.jsonl:2", "missing field 'text'"},
       2},
      {"CorpusMissingId", "corpus.jsonl", d1 + "{\"text\": \"two\"}\n", {"corpus.jsonl:2", "missing field '_id'"}, 2},
      {"CorpusTextNotString",
       "corpus.jsonl",
       "{\"_id\": \"d1\", \"text\": 5}\n",
       {"corpus.jsonl:1", "field 'text' must be a string, found number"},
       1},
      {"CorpusTextNull",
       "corpus.jsonl",
       "{\"_id\": \"d1\", \"text\": null}\n",
       {"corpus.jsonl:1", "field 'text' must be a string, found null"},
       1},
      {"CorpusTitleNotString",
       "corpus.jsonl",
       "{\"_id\": \"d1\", \"title\": [\"a\"], \"text\": \"x\"}\n",
       {"corpus.jsonl:1", "field 'title' must be a string, found array"},
       1},
      {"CorpusFloatId",
       "corpus.jsonl",
       "{\"_id\": 1.5, \"text\": \"x\"}\n",
       {"corpus.jsonl:1", "field '_id' must be a string"},
       1},
      {"CorpusBoolId", "corpus.jsonl", "{\"_id\": true, \"text\": \"x\"}\n", {"corpus.jsonl:1", "found boolean"}, 1},
      {"CorpusEmptyId", "corpus.jsonl", d1 + "{\"_id\": \"\", \"text\": \"x\"}\n", {"corpus.jsonl:2", "empty id"}, 2},
      {"CorpusDuplicateId",
       "corpus.jsonl",
       d1 + "{\"_id\": \"d2\", \"text\": \"x\"}\n" + d1,
       {"corpus.jsonl:3", "duplicate document id 'd1' (first on line 1)"},
       3},
      {"CorpusIntegerId",
       "corpus.jsonl",
       "{\"_id\": \"7\", \"text\": \"x\"}\n{\"_id\": 8, \"text\": \"y\"}\n",
       {"corpus.jsonl:2", "field '_id' must be a string, found number (write the id as \"8\")"},
       2},
      {"CorpusInvalidUtf8InString",
       "corpus.jsonl",
       d1 + "{\"_id\": \"d2\", \"text\": \"caf\xE9\"}\n",
       {"corpus.jsonl:2", "invalid UTF-8", "0xE9"},
       2},
      {"CorpusInvalidUtf8InId",
       "corpus.jsonl",
       d1 + "{\"_id\": \"\xFF"
            "d\", \"text\": \"x\"}\n",
       {"corpus.jsonl:2", "invalid UTF-8", "0xFF"},
       2},
      {"CorpusTruncatedUtf8",
       "corpus.jsonl",
       "{\"_id\": \"d1\", \"text\": \"\xE6\x97\"}\n",
       {"corpus.jsonl:1", "invalid UTF-8"},
       1},
      {"CorpusOverlongUtf8",
       "corpus.jsonl",
       "{\"_id\": \"d1\", \"text\": \"\xC0\x80\"}\n",
       {"corpus.jsonl:1", "invalid UTF-8"},
       1},
      {"CorpusSurrogateUtf8",
       "corpus.jsonl",
       "{\"_id\": \"d1\", \"text\": \"\xED\xA0\x80\"}\n",
       {"corpus.jsonl:1", "invalid UTF-8"},
       1},
      {"CorpusAboveUnicodeUtf8",
       "corpus.jsonl",
       "{\"_id\": \"d1\", \"text\": \"\xF4\x90\x80\x80\"}\n",
       {"corpus.jsonl:1", "invalid UTF-8"},
       1},
      {"CorpusBlankLine",
       "corpus.jsonl",
       d1 + "\n{\"_id\": \"d2\", \"text\": \"two\"}\n",
       {"corpus.jsonl:2", "blank line"},
       2},
      {"CorpusWhitespaceLine", "corpus.jsonl", d1 + "  \t\n", {"corpus.jsonl:2", "blank line"}, 2},
      {"CorpusExtraNewlineAtEnd", "corpus.jsonl", d1 + "\n", {"corpus.jsonl:2", "blank line"}, 2},
      {"CorpusByteOrderMark", "corpus.jsonl", "\xEF\xBB\xBF" + d1, {"corpus.jsonl:1", "byte order mark"}, 1},
      {"CorpusEmpty", "corpus.jsonl", "", {"corpus.jsonl", "empty corpus"}, 0},
      {"CorpusIsAFolder", "corpus.jsonl", "", {"corpus.jsonl", "folder"}, 0, Expected::io_error, false, true},
      // queries.jsonl
      {"QueriesMalformedJson",
       "queries.jsonl",
       q1 + "{\"_id\": \"q2\" \"text\": \"x\"}\n",
       {"queries.jsonl:2", "malformed JSON"},
       2},
      {"QueriesMissingText",
       "queries.jsonl",
       q1 + "{\"_id\": \"q2\"}\n",
       {"queries.jsonl:2", "missing field 'text'"},
       2},
      {"QueriesDuplicateId",
       "queries.jsonl",
       q1 + "{\"_id\": \"q2\", \"text\": \"x\"}\n" + q1,
       {"queries.jsonl:3", "duplicate query id 'q1' (first on line 1)"},
       3},
      {"QueriesInvalidUtf8",
       "queries.jsonl",
       q1 + "{\"_id\": \"q2\", \"text\": \"\x80\"}\n",
       {"queries.jsonl:2", "invalid UTF-8"},
       2},
      {"QueriesEmpty", "queries.jsonl", "", {"queries.jsonl", "empty query set"}, 0},
      {"QueriesIsAFolder", "queries.jsonl", "", {"queries.jsonl", "folder"}, 0, Expected::io_error, false, true},
      // qrels.jsonl
      {"QrelsMissingScore",
       "qrels.jsonl",
       j1 + "{\"query-id\": \"q2\", \"corpus-id\": \"d2\"}\n",
       {"qrels.jsonl:2", "missing field 'score'"},
       2},
      {"QrelsMissingCorpusId",
       "qrels.jsonl",
       "{\"query-id\": \"q2\", \"score\": 1}\n",
       {"qrels.jsonl:1", "missing field 'corpus-id'"},
       1},
      {"QrelsFractionalScore",
       "qrels.jsonl",
       j1 + "{\"query-id\": \"q2\", \"corpus-id\": \"d2\", \"score\": 1.5}\n",
       {"qrels.jsonl:2", "field 'score' must be an integer, found 1.5"},
       2},
      {"QrelsStringScore",
       "qrels.jsonl",
       "{\"query-id\": \"q2\", \"corpus-id\": \"d2\", \"score\": \"1\"}\n",
       {"qrels.jsonl:1", "field 'score' must be an integer, found string"},
       1},
      {"QrelsHugeScore",
       "qrels.jsonl",
       "{\"query-id\": \"q2\", \"corpus-id\": \"d2\", \"score\": 99999999999}\n",
       {"qrels.jsonl:1", "out of range"},
       1},
      {"QrelsDuplicatePair",
       "qrels.jsonl",
       j1 + "{\"query-id\": \"q2\", \"corpus-id\": \"d2\", \"score\": 1}\n" +
           "{\"query-id\": \"q1\", \"corpus-id\": \"d1\", \"score\": 2}\n",
       {"qrels.jsonl:3", "duplicate judgement for query 'q1' and document 'd1' (first on line 1)"},
       3},
      {"QrelsEmpty", "qrels.jsonl", "", {"qrels.jsonl", "empty qrels"}, 0},
      {"QrelsInvalidUtf8",
       "qrels.jsonl",
       j1 + "{\"query-id\": \"q\xC3\", \"corpus-id\": \"d2\", \"score\": 1}\n",
       {"qrels.jsonl:2", "invalid UTF-8"},
       2},
      // qrels/test.tsv
      {"TsvMissingHeader", "qrels/test.tsv", "q1\td1\t1\n", {"test.tsv:1", "header"}, 1, Expected::data_error, true},
      {"TsvTooFewFields",
       "qrels/test.tsv",
       header + "q1\td1\t1\nq2 d2 1\n",
       {"test.tsv:3", "3 tab-separated fields"},
       3,
       Expected::data_error,
       true},
      {"TsvTooManyFields",
       "qrels/test.tsv",
       header + "q1\t0\td1\t1\n",
       {"test.tsv:2", "found 4"},
       2,
       Expected::data_error,
       true},
      {"TsvFloatScore",
       "qrels/test.tsv",
       header + "q1\td1\t1.0\n",
       {"test.tsv:2", "score must be an integer, found '1.0'"},
       2,
       Expected::data_error,
       true},
      {"TsvEmptyQueryId",
       "qrels/test.tsv",
       header + "\td1\t1\n",
       {"test.tsv:2", "empty query-id"},
       2,
       Expected::data_error,
       true},
      {"TsvInvalidUtf8Id",
       "qrels/test.tsv",
       header + "q1\td1\t1\nq2\td\xFF\t1\n",
       {"test.tsv:3", "invalid UTF-8"},
       3,
       Expected::data_error,
       true},
      {"TsvDuplicatePair",
       "qrels/test.tsv",
       header + "q1\td1\t1\nq2\td2\t1\nq1\td1\t1\n",
       {"test.tsv:4", "duplicate judgement for query 'q1' and document 'd1' (first on line 2)"},
       4,
       Expected::data_error,
       true},
      {"TsvBlankLine",
       "qrels/test.tsv",
       header + "q1\td1\t1\n\nq2\td2\t1\n",
       {"test.tsv:3", "blank line"},
       3,
       Expected::data_error,
       true},
      {"TsvHeaderOnly", "qrels/test.tsv", header, {"test.tsv", "empty qrels"}, 0, Expected::data_error, true},
  };
}

class BadInputTest : public DataLoaderTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(BadInputTest, ThrowsNamingFileAndLine) {
  const BadInput& input = GetParam();
  const fs::path root = make_dataset("bad", input.tsv_qrels);
  const fs::path target = root / input.file;
  if (input.as_folder) {
    fs::remove(target);
    fs::create_directories(target);
  } else {
    write_file(target, input.contents);
  }

  try {
    load_dataset(root);
    FAIL() << "expected an exception";
  } catch (const DataError& e) {
    ASSERT_EQ(input.expected, Expected::data_error) << "DataError instead of IoError: " << e.what();
    EXPECT_EQ(e.path(), target);
    EXPECT_EQ(e.line(), input.line) << e.what();
    for (const auto& part : input.message_parts) EXPECT_THAT(e.what(), HasSubstr(part));
  } catch (const IoError& e) {
    ASSERT_EQ(input.expected, Expected::io_error) << "IoError instead of DataError: " << e.what();
    EXPECT_EQ(e.path(), target);
    for (const auto& part : input.message_parts) EXPECT_THAT(e.what(), HasSubstr(part));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadInputTest, ::testing::ValuesIn(bad_inputs()),
                         [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

}  // namespace
}  // namespace limit_eval::data
