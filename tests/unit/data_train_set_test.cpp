// The seed's training set (DESIGN.md §5): `build_train_set` and its helpers.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "limit_eval/core/error.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/data/generate.hpp"
#include "temp_folder.hpp"

namespace limit_eval::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSourceDir = LIMIT_EVAL_SOURCE_DIR;

class TrainSetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    all_attributes_ = new std::vector<std::string>(load_attributes(kSourceDir / "data" / "limit-attributes.txt"));
    test_attributes_ = new std::vector<std::string>(load_asked_attributes(kSourceDir / "data" / "limit" / "queries.jsonl"));
    training_attributes_ = new std::vector<std::string>(attributes_except(*all_attributes_, *test_attributes_));
    names_ = new NameLists(load_names(kSourceDir / "data" / "names.txt"));
  }
  static void TearDownTestSuite() {
    delete all_attributes_;
    delete test_attributes_;
    delete training_attributes_;
    delete names_;
  }
  static TrainSetOptions small_options() {
    TrainSetOptions options;
    options.documents = 2000;
    options.queries = 100;
    return options;
  }
  static std::vector<std::string>* all_attributes_;
  static std::vector<std::string>* test_attributes_;
  static std::vector<std::string>* training_attributes_;
  static NameLists* names_;
};
std::vector<std::string>* TrainSetTest::all_attributes_ = nullptr;
std::vector<std::string>* TrainSetTest::test_attributes_ = nullptr;
std::vector<std::string>* TrainSetTest::training_attributes_ = nullptr;
NameLists* TrainSetTest::names_ = nullptr;

// "<First> <Last> likes a, b, c." -> {a, b, c} (names are one word; attributes hold no comma).
std::vector<std::string> listed_attributes(const Document& document) {
  const std::string& text = document.text;
  const auto second_space = text.find(' ', text.find(' ') + 1);
  EXPECT_EQ(text.substr(second_space, 7), " likes ") << text;
  EXPECT_EQ(text.back(), '.') << text;
  const std::string list = text.substr(second_space + 7, text.size() - second_space - 8);
  std::vector<std::string> attributes;
  std::size_t start = 0;
  for (auto comma = list.find(", "); comma != std::string::npos; comma = list.find(", ", start)) {
    attributes.push_back(list.substr(start, comma - start));
    start = comma + 2;
  }
  attributes.push_back(list.substr(start));
  return attributes;
}

std::string asked_attribute(const Query& query) {
  EXPECT_TRUE(query.text.starts_with("Who likes ") && query.text.ends_with("?")) << query.text;
  return query.text.substr(10, query.text.size() - 11);
}

TEST_F(TrainSetTest, TestAttributesAreLimitsQueries) {
  EXPECT_EQ(test_attributes_->size(), 1000U);
  EXPECT_EQ(std::set<std::string>(test_attributes_->begin(), test_attributes_->end()).size(), 1000U);
  // Two test attributes ("Barnacles", "Nautiluses") are not in LIMIT's attribute list: 1,848 - 998
  // = 850 training attributes, as many as the seed's 850 queries.
  EXPECT_EQ(training_attributes_->size(), 850U);
}

// No test attribute anywhere in the seed-sized set, and every judgement holds: the judged document
// lists the query's attribute.
TEST_F(TrainSetTest, SeedSizedSetIsDisjointFromTestAttributesAndJudgementsHold) {
  const GeneratedDataset dataset = build_train_set(TrainSetOptions{}, *training_attributes_, *names_);
  ASSERT_EQ(dataset.corpus.size(), 50000U);
  ASSERT_EQ(dataset.queries.size(), 850U);
  ASSERT_EQ(dataset.qrels.size(), 1700U);
  const std::set<std::string> test(test_attributes_->begin(), test_attributes_->end());
  const std::set<std::string> training(training_attributes_->begin(), training_attributes_->end());
  std::map<std::string, std::set<std::string>> listed_by_document;
  for (std::size_t i = 0; i < dataset.corpus.size(); ++i) {
    const Document& document = dataset.corpus[i];
    ASSERT_EQ(document.id, "doc_" + std::to_string(i));
    ASSERT_EQ(document.title, "");
    const auto listed = listed_attributes(document);
    ASSERT_GE(listed.size(), 5U);
    ASSERT_LE(listed.size(), 15U);
    const std::set<std::string> distinct(listed.begin(), listed.end());
    ASSERT_EQ(distinct.size(), listed.size()) << document.text;
    for (const auto& attribute : listed) {
      ASSERT_FALSE(test.contains(attribute)) << "test attribute in " << document.id << ": " << attribute;
      ASSERT_TRUE(training.contains(attribute)) << attribute;
    }
    listed_by_document[document.id] = distinct;
  }
  // 850 training attributes, every one listed by hundreds of documents: each query asks about its own.
  ASSERT_EQ(training.size(), 850U);
  std::map<std::string, std::string> attribute_of_query;
  std::set<std::string> asked;
  for (std::size_t i = 0; i < dataset.queries.size(); ++i) {
    const Query& query = dataset.queries[i];
    const std::string attribute = asked_attribute(query);
    EXPECT_FALSE(test.contains(attribute)) << query.text;
    const bool first_time = asked.insert(attribute).second;
    EXPECT_TRUE(first_time) << query.id << " asks again about " << attribute;
    attribute_of_query[query.id] = attribute;
  }
  std::map<std::string, std::set<std::string>> relevant;
  for (const Judgement& judgement : dataset.qrels) {
    EXPECT_EQ(judgement.score, 1);
    EXPECT_TRUE(listed_by_document.at(judgement.document_id).contains(attribute_of_query.at(judgement.query_id)))
        << judgement.query_id << " judges " << judgement.document_id << " which does not list its attribute";
    EXPECT_TRUE(relevant[judgement.query_id].insert(judgement.document_id).second) << "judged twice";
  }
  for (const auto& [query, documents] : relevant) EXPECT_EQ(documents.size(), 2U) << query;
  EXPECT_EQ(dataset.statistics.reused_query_attributes, 0U);
}

TEST_F(TrainSetTest, SameSeedSameOutputOtherSeedOtherOutput) {
  const auto a = build_train_set(small_options(), *training_attributes_, *names_);
  const auto b = build_train_set(small_options(), *training_attributes_, *names_);
  auto other_options = small_options();
  other_options.seed = 43;
  const auto c = build_train_set(other_options, *training_attributes_, *names_);
  for (std::size_t i = 0; i < a.corpus.size(); ++i) ASSERT_EQ(corpus_line(a.corpus[i]), corpus_line(b.corpus[i]));
  for (std::size_t i = 0; i < a.qrels.size(); ++i) ASSERT_EQ(qrels_line(a.qrels[i]), qrels_line(b.qrels[i]));
  for (std::size_t i = 0; i < a.queries.size(); ++i) ASSERT_EQ(query_line(a.queries[i]), query_line(b.queries[i]));
  EXPECT_NE(corpus_line(a.corpus[0]), corpus_line(c.corpus[0]));
  EXPECT_NE(query_line(a.queries[0]), query_line(c.queries[0]));
}

// Too few qualifying attributes: every one is asked about before any is asked again.
TEST_F(TrainSetTest, AttributesAreReusedOnlyWhenTooFewQualify) {
  TrainSetOptions options;
  options.documents = 20;
  options.queries = 120;
  options.attributes_per_document = {5, 5};
  std::vector<std::string> attributes(training_attributes_->begin(), training_attributes_->begin() + 30);
  const auto dataset = build_train_set(options, attributes, *names_);
  ASSERT_EQ(dataset.queries.size(), 120U);
  std::map<std::string, std::size_t> documents_listing;
  for (const auto& document : dataset.corpus) {
    for (const auto& attribute : listed_attributes(document)) ++documents_listing[attribute];
  }
  std::size_t qualifying = 0;
  for (const auto& [attribute, count] : documents_listing) qualifying += count >= 2 ? 1 : 0;
  ASSERT_LT(qualifying, 120U);
  std::set<std::string> first_round;
  for (std::size_t i = 0; i < qualifying; ++i) first_round.insert(asked_attribute(dataset.queries[i]));
  EXPECT_EQ(first_round.size(), qualifying);
  EXPECT_EQ(dataset.statistics.reused_query_attributes, 120U - qualifying);
  for (const auto& query : dataset.queries) EXPECT_GE(documents_listing[asked_attribute(query)], 2U);
}

TEST_F(TrainSetTest, ImpossibleOptionsAreUsageErrors) {
  const auto fails = [&](const TrainSetOptions& options, const std::vector<std::string>& attributes,
                         const char* message) {
    try {
      (void)build_train_set(options, attributes, *names_);
      ADD_FAILURE() << "no error; expected one mentioning: " << message;
    } catch (const UsageError& error) {
      EXPECT_THAT(error.what(), HasSubstr(message));
    }
  };
  auto options = small_options();
  options.relevant_per_query = 3000;
  fails(options, *training_attributes_, "more than --documents");
  options = small_options();
  options.attributes_per_document = {5, 900};
  fails(options, *training_attributes_, "training attributes remain");
  options = small_options();
  options.documents = 3;
  options.relevant_per_query = 3;
  options.attributes_per_document = {1, 1};
  // Three documents listing one attribute each out of three: none is listed three times.
  const std::vector<std::string> three(training_attributes_->begin(), training_attributes_->begin() + 3);
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    options.seed = seed;
    const auto listed_once = [&] {
      try {
        (void)build_train_set(options, three, *names_);
        return false;
      } catch (const UsageError&) {
        return true;
      }
    }();
    if (listed_once) {
      fails(options, three, "no attribute is listed by");
      return;
    }
  }
  ADD_FAILURE() << "no seed gave three documents three different attributes";
}

TEST_F(TrainSetTest, QueriesOfAnotherFormAreDataErrors) {
  const test::TempFolder folder;
  const fs::path file = folder.write(
      "queries.jsonl",
      "{\"_id\": \"q1\", \"text\": \"Who likes Apples?\"}\n{\"_id\": \"q2\", \"text\": \"Who hates Pears?\"}\n");
  try {
    (void)load_asked_attributes(file);
    ADD_FAILURE() << "no error for a query of another form";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("q2"));
  }
}

}  // namespace
}  // namespace limit_eval::data
