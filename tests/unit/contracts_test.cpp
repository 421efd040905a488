// Preconditions on data from outside a function hold in every build: each test gives one bad input
// and expects the typed error, so that they also pass (and can fail) in the Release build that CI
// and users run, where assert() is gone. Also: the class (and so the exit status) of the errors
// that used to leave as a bare Error or a std exception.

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/file_name.hpp"
#include "limit_eval/encode/bm25_encoder.hpp"
#include "limit_eval/encode/static_query_encoder.hpp"
#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/report/table.hpp"
#include "limit_eval/sparse/csr.hpp"
#include "limit_eval/sparse/efficiency.hpp"
#include "limit_eval/sparse/retrieval.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace limit_eval {
namespace {

using sparse::CsrBuilder;
using sparse::CsrMatrix;
using sparse::Hit;

CsrMatrix matrix(std::uint32_t cols, const std::vector<std::vector<std::pair<std::uint32_t, float>>>& rows) {
  CsrBuilder builder(cols);
  for (const auto& row : rows) builder.add_row(row);
  return std::move(builder).finish();
}

// ---- CsrBuilder (fed by model output) ----------------------------------------------------------

TEST(CsrBuilderContract, AddSortedRowRefusesWhatIsNotCanonicalAndLeavesTheMatrixAsItWas) {
  CsrBuilder builder(10);
  const std::vector<std::uint32_t> good{1, 4};
  const std::vector<float> good_values{0.5F, 2.0F};
  builder.add_sorted_row(good, good_values);
  const std::vector<std::uint32_t> two{1, 4};
  const std::vector<float> one{0.5F};
  EXPECT_THROW(builder.add_sorted_row(two, one), ContractError);  // sizes differ
  const std::vector<std::uint32_t> unsorted{4, 1};
  EXPECT_THROW(builder.add_sorted_row(unsorted, good_values), ContractError);
  const std::vector<std::uint32_t> repeated{4, 4};
  EXPECT_THROW(builder.add_sorted_row(repeated, good_values), ContractError);
  const std::vector<std::uint32_t> past_the_columns{1, 10};
  EXPECT_THROW(builder.add_sorted_row(past_the_columns, good_values), ContractError);
  const std::vector<float> with_zero{0.5F, 0.0F};
  EXPECT_THROW(builder.add_sorted_row(good, with_zero), ContractError);
  const std::vector<float> with_nan{std::nanf(""), 1.0F};
  EXPECT_THROW(builder.add_sorted_row(good, with_nan), ContractError);
  EXPECT_EQ(builder.rows(), 1U);
  const CsrMatrix m = std::move(builder).finish();
  EXPECT_EQ(m.indices, good);
  EXPECT_EQ(m.indptr, (std::vector<std::uint64_t>{0, 2}));
}

TEST(CsrBuilderContract, AddRowRefusesAColumnPastTheMatrix) {
  CsrBuilder builder(3);
  const std::vector<std::pair<std::uint32_t, float>> row{{0, 1.0F}, {3, 1.0F}};
  EXPECT_THROW(builder.add_row(row), ContractError);
  EXPECT_EQ(builder.rows(), 0U);
}

TEST(CscContract, ColumnFlagsCoverEveryColumn) {
  const CsrMatrix m = matrix(3, {{{0, 1.0F}, {2, 1.0F}}});
  const std::vector<std::uint8_t> two_flags{1, 1};
  EXPECT_THROW((void)sparse::to_csc(m, 1, two_flags), ContractError);
  const std::vector<std::uint8_t> three_flags{1, 0, 1};
  EXPECT_EQ(sparse::to_csc(m, 1, three_flags).indptr, (std::vector<std::uint64_t>{0, 1, 1, 2}));
}

// ---- InvertedIndex -----------------------------------------------------------------------------

TEST(InvertedIndexContract, RefusesAsManyIdsAsDocumentsOnly) {
  const CsrMatrix docs = matrix(4, {{{0, 1.0F}}, {{1, 1.0F}}, {{2, 1.0F}}});
  const std::vector<std::string> two_ids{"a", "b"};
  EXPECT_THROW(sparse::InvertedIndex(docs, two_ids), ContractError);
  const std::vector<std::string_view> four_ids{"a", "b", "c", "d"};
  EXPECT_THROW(sparse::InvertedIndex(docs, four_ids, docs), ContractError);
}

TEST(InvertedIndexContract, SearchRefusesExclusionsThatDoNotFitTheQueriesOrDocuments) {
  const CsrMatrix docs = matrix(4, {{{0, 1.0F}}, {{1, 1.0F}}, {{2, 1.0F}}});
  const std::vector<std::string> ids{"a", "b", "c"};
  const sparse::InvertedIndex index(docs, ids);
  const CsrMatrix queries = matrix(4, {{{0, 1.0F}}, {{1, 2.0F}}});
  const std::vector<std::optional<std::uint32_t>> one_exclusion{std::nullopt};
  EXPECT_THROW((void)index.search(queries, 2, 1, &one_exclusion), ContractError);
  const std::vector<std::optional<std::uint32_t>> past_the_documents{std::nullopt, 3U};
  EXPECT_THROW((void)index.search(queries, 2, 1, &past_the_documents), ContractError);
  const std::vector<std::optional<std::uint32_t>> fine{std::nullopt, 2U};
  EXPECT_EQ(index.search(queries, 2, 1, &fine).size(), 2U);
}

// ---- evaluate_ranked / evaluate ----------------------------------------------------------------

class EvaluateRankedContract : public ::testing::Test {
 protected:
  const data::Qrels qrels_{{"q1", {{"d1", 1}}}, {"q2", {{"d2", 1}}}};
  const std::vector<std::string_view> queries_{"q1", "q2"};
  const std::vector<std::string_view> docs_{"d1", "d2", "d3"};
};

TEST_F(EvaluateRankedContract, RefusesHitListsThatDoNotFitTheIds) {
  const std::vector<std::vector<Hit>> one_list{{{0, 1.0F}}};
  EXPECT_THROW((void)eval::evaluate_ranked(qrels_, queries_, docs_, one_list), ContractError);
  const std::vector<std::vector<Hit>> past_the_documents{{{0, 1.0F}}, {{3, 1.0F}}};
  EXPECT_THROW((void)eval::evaluate_ranked(qrels_, queries_, docs_, past_the_documents), ContractError);
}

TEST_F(EvaluateRankedContract, RefusesHitsOutOfRankOrder) {
  const std::vector<std::vector<Hit>> ascending{{{0, 1.0F}, {1, 2.0F}}, {}};
  EXPECT_THROW((void)eval::evaluate_ranked(qrels_, queries_, docs_, ascending), ContractError);
  // Ties rank the larger id first: d1 before d2 is out of order.
  const std::vector<std::vector<Hit>> tie_by_ascending_id{{{0, 1.0F}, {1, 1.0F}}, {}};
  EXPECT_THROW((void)eval::evaluate_ranked(qrels_, queries_, docs_, tie_by_ascending_id), ContractError);
  const std::vector<std::vector<Hit>> in_order{{{1, 1.0F}, {0, 1.0F}}, {{1, 3.0F}}};
  EXPECT_EQ(eval::evaluate_ranked(qrels_, queries_, docs_, in_order).evaluated_queries, 2U);
}

TEST_F(EvaluateRankedContract, NanScoresAndRepeatedDocumentsAreInvalidData) {
  const std::vector<std::vector<Hit>> nan{{{0, std::nanf("")}}, {}};
  EXPECT_THROW((void)eval::evaluate_ranked(qrels_, queries_, docs_, nan), DataError);
  const std::vector<std::vector<Hit>> twice{{{0, 1.0F}, {0, 1.0F}}, {}};
  EXPECT_THROW((void)eval::evaluate_ranked(qrels_, queries_, docs_, twice), DataError);
  const std::vector<std::string_view> same_query_twice{"q1", "q1"};
  const std::vector<std::vector<Hit>> two_lists{{{0, 1.0F}}, {{0, 1.0F}}};
  EXPECT_THROW((void)eval::evaluate_ranked(qrels_, same_query_twice, docs_, two_lists), DataError);
}

TEST(EvaluateContract, NanScoresAndRepeatedDocumentsAreInvalidData) {
  const data::Qrels qrels{{"q", {{"d", 1}}}};
  EXPECT_THROW((void)eval::evaluate(qrels, {{"q", {{"d", std::nan("")}}}}), DataError);
  EXPECT_THROW((void)eval::evaluate(qrels, {{"q", {{"d", 1.0}, {"d", 0.5}}}}), DataError);
}

// ---- StaticQueryEncoder (weights from a model folder) ------------------------------------------

class CountingTokenizer final : public text::Tokenizer {
 public:
  explicit CountingTokenizer(std::size_t ids) : ids_(ids) {}
  [[nodiscard]] std::vector<std::vector<std::uint32_t>> encode_batch(std::span<const std::string> texts, bool,
                                                                     std::size_t, std::size_t) const override {
    std::vector<std::vector<std::uint32_t>> out;
    for (const auto& text : texts) out.push_back({static_cast<std::uint32_t>(text.size() % ids_)});
    return out;
  }
  [[nodiscard]] std::string token(std::uint32_t id) const override { return std::to_string(id); }
  [[nodiscard]] std::size_t id_limit() const override { return ids_; }
  [[nodiscard]] std::string kind() const override { return "counting"; }

 private:
  std::size_t ids_;
};

TEST(StaticQueryEncoderContract, WeightsMustCoverEveryTokenIdAndBeFinite) {
  const CountingTokenizer tokenizer(5);
  EXPECT_THROW(encode::StaticQueryEncoder(tokenizer, std::vector<float>(4, 1.0F), 512, false, 1), ModelError);
  EXPECT_THROW(encode::StaticQueryEncoder(tokenizer, {1.0F, 1.0F, std::nanf(""), 1.0F, 1.0F}, 512, false, 1),
               ModelError);
  EXPECT_THROW(encode::StaticQueryEncoder(tokenizer, {1.0F, 1.0F, 1.0F, std::numeric_limits<float>::infinity(), 1.0F},
                                          512, false, 1),
               ModelError);
  const encode::StaticQueryEncoder encoder(tokenizer, {0.5F, 1.0F, 2.0F, 3.0F, 4.0F, 0.0F}, 512, false, 1);
  const std::vector<data::Query> queries{{"q", "abc"}};
  const CsrMatrix vectors = encoder.encode(queries);
  EXPECT_EQ(vectors.indices, std::vector<std::uint32_t>{3});
}

// ---- report tables ------------------------------------------------------------------------------

TEST(MarkdownGridContract, EveryRowHasAsManyCellsAsTheHeader) {
  EXPECT_THROW((void)report::markdown_grid({"a", "b"}, {{"1", "2"}, {"3"}}), ContractError);
  EXPECT_EQ(report::markdown_grid({"a"}, {{"1"}}), "| a |\n| --- |\n| 1 |\n");
}

// ---- errors that used to leave with exit status 1 ----------------------------------------------

TEST(ErrorClasses, InvalidUtf8IsInvalidData) {
  const text::InvalidUtf8Error error(3, 1);
  const Error& base = error;
  EXPECT_NE(dynamic_cast<const DataError*>(&base), nullptr);
}

TEST(ErrorClasses, Bm25NamesTheDocumentWithInvalidUtf8AsInvalidData) {
  encode::Bm25Encoder encoder({}, 1);
  const std::vector<data::Document> corpus{{"fine", "", "good text"}, {"broken", "", "bad \xC3( text"}};
  try {
    (void)encoder.encode_documents(corpus);
    FAIL() << "invalid UTF-8 accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'broken'"), std::string::npos) << e.what();
  }
}

TEST(ErrorClasses, Bm25OfAnEmptyCorpusIsInvalidDataAndQueriesFirstABrokenContract) {
  encode::Bm25Encoder encoder({}, 1);
  const std::vector<data::Query> queries{{"q", "who"}};
  EXPECT_THROW((void)encoder.encode_queries(queries), ContractError);
  EXPECT_THROW((void)encoder.encode_documents({}), DataError);
}

TEST(ErrorClasses, DataErrorWithoutAFileIsItsMessage) {
  EXPECT_STREQ(DataError("run of query 'q': bad").what(), "run of query 'q': bad");
}

TEST(ErrorClasses, EfficiencyOfVectorsOfDifferentWidthsIsABrokenContract) {
  EXPECT_THROW((void)sparse::measure_efficiency(matrix(3, {{{0, 1.0F}}}), matrix(4, {{{0, 1.0F}}})), ContractError);
}

// ---- file names from files made by others ------------------------------------------------------

TEST(FileNamePart, NeverLeavesTheFolderItIsJoinedTo) {
  const std::vector<std::string> names{"../../etc/passwd", "..",      ".", "", "/abs/path", "a/../../b",
                                       std::string("x\0y", 3), std::string(300, 'n'), ".hidden", "a\\b", "~/x"};
  for (const std::string& name : names) {
    const std::string part = file_name_part(name);
    EXPECT_FALSE(part.empty()) << name;
    EXPECT_LE(part.size(), kMaxFileNamePart) << name;
    EXPECT_NE(part.front(), '.') << name;
    EXPECT_EQ(part.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."),
              std::string::npos)
        << name;
    const std::filesystem::path joined = std::filesystem::path("/out") / part;
    EXPECT_EQ(joined.lexically_normal().parent_path(), "/out") << name;
  }
  EXPECT_EQ(file_name_part("v3-gte"), "v3-gte");
  EXPECT_EQ(file_name_part("opensearch-project/doc-v3"), "opensearch-project_doc-v3");
  EXPECT_EQ(file_name_part(".."), "_..");
}

}  // namespace
}  // namespace limit_eval
