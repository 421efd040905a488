#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
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

using test::read_file;
using test::write_file;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Splits "A, B, C and D" into its attributes. An attribute may itself hold " and " ("Fish and
// Chips"), so the last two are told apart by trying every " and " of the last piece.
std::vector<std::string> split_attribute_list(const std::string& list, const std::set<std::string>& known) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  for (std::size_t comma = list.find(", "); comma != std::string::npos; comma = list.find(", ", start)) {
    pieces.push_back(list.substr(start, comma - start));
    start = comma + 2;
  }
  const std::string tail = list.substr(start);
  if (pieces.empty() && known.contains(tail)) return {tail};
  for (std::size_t at = tail.find(" and "); at != std::string::npos; at = tail.find(" and ", at + 1)) {
    const std::string before = tail.substr(0, at);
    const std::string after = tail.substr(at + 5);
    if (known.contains(before) && known.contains(after)) {
      pieces.push_back(before);
      pieces.push_back(after);
      return pieces;
    }
  }
  ADD_FAILURE() << "cannot split the end of the list: " << tail;
  return pieces;
}

// Every document's attribute list, read back from its text "<id> likes <list>.".
std::map<std::string, std::vector<std::string>> parse_documents(const std::vector<Document>& corpus,
                                                                const std::vector<std::string>& attributes) {
  const std::set<std::string> known(attributes.begin(), attributes.end());
  std::map<std::string, std::vector<std::string>> listed;
  for (const Document& document : corpus) {
    const std::string prefix = document.id + " likes ";
    EXPECT_EQ(document.text.substr(0, prefix.size()), prefix);
    EXPECT_EQ(document.text.back(), '.');
    EXPECT_EQ(document.title, "");
    auto list = split_attribute_list(document.text.substr(prefix.size(), document.text.size() - prefix.size() - 1),
                                     known);
    for (const auto& attribute : list) EXPECT_TRUE(known.contains(attribute)) << attribute << " in " << document.id;
    EXPECT_EQ(std::set<std::string>(list.begin(), list.end()).size(), list.size()) << "repeated in " << document.id;
    listed[document.id] = std::move(list);
  }
  return listed;
}

// The property the benchmark rests on: the relevant documents of "Who likes X?" are exactly the
// documents whose list holds X.
void expect_qrels_correct_by_construction(const GeneratedDataset& dataset, const std::vector<std::string>& attributes,
                                          std::size_t relevant_per_query) {
  const auto listed = parse_documents(dataset.corpus, attributes);
  std::map<std::string, std::set<std::string>> listing;  // attribute -> documents listing it
  for (const auto& [id, list] : listed) {
    for (const auto& attribute : list) listing[attribute].insert(id);
  }
  std::map<std::string, std::set<std::string>> relevant;
  for (const Judgement& judgement : dataset.qrels) {
    EXPECT_EQ(judgement.score, 1);
    EXPECT_TRUE(relevant[judgement.query_id].insert(judgement.document_id).second) << "judged twice";
  }
  std::set<std::string> query_attributes;
  for (const Query& query : dataset.queries) {
    ASSERT_TRUE(query.text.starts_with("Who likes ") && query.text.ends_with("?")) << query.text;
    const std::string attribute = query.text.substr(10, query.text.size() - 11);
    EXPECT_TRUE(query_attributes.insert(attribute).second) << "two queries ask about " << attribute;
    EXPECT_EQ(relevant[query.id], listing[attribute]) << query.id << ": " << query.text;
    EXPECT_EQ(relevant[query.id].size(), relevant_per_query) << query.id;
  }
  EXPECT_EQ(relevant.size(), dataset.queries.size());
}

class GenerateTest : public test::TempFolderTest {
 protected:
  static void SetUpTestSuite() {
    attributes_ = new std::vector<std::string>(load_attributes(kSourceDir / "data" / "limit-attributes.txt"));
    names_ = new NameLists(load_names(kSourceDir / "data" / "names.txt"));
  }
  static void TearDownTestSuite() {
    delete attributes_;
    delete names_;
  }
  static GenerateOptions small_options() {
    GenerateOptions options;
    options.documents = 300;
    options.queries = 50;
    options.seed = 7;
    return options;
  }

  static std::vector<std::string>* attributes_;
  static NameLists* names_;
};

std::vector<std::string>* GenerateTest::attributes_ = nullptr;
NameLists* GenerateTest::names_ = nullptr;

std::string serialized(const GeneratedDataset& dataset) {
  std::string text;
  for (const auto& document : dataset.corpus) text += corpus_line(document) + "\n";
  for (const auto& query : dataset.queries) text += query_line(query) + "\n";
  for (const auto& judgement : dataset.qrels) text += qrels_line(judgement) + "\n";
  return text;
}

TEST_F(GenerateTest, ShippedListsLoad) {
  EXPECT_EQ(attributes_->size(), 1848U);
  EXPECT_GT(names_->first.size(), 5000U);
  EXPECT_GT(names_->last.size(), 10000U);
  // LIMIT's own names are in the list.
  EXPECT_TRUE(std::ranges::find(names_->first, "Geneva") != names_->first.end());
  EXPECT_TRUE(std::ranges::find(names_->last, "Durben") != names_->last.end());
}

TEST_F(GenerateTest, SameSeedSameOutputOtherSeedOtherOutput) {
  const auto first = serialized(generate_dataset(small_options(), *attributes_, *names_));
  const auto second = serialized(generate_dataset(small_options(), *attributes_, *names_));
  EXPECT_EQ(first, second);
  auto options = small_options();
  options.seed = 8;
  EXPECT_NE(first, serialized(generate_dataset(options, *attributes_, *names_)));
}

TEST_F(GenerateTest, CountsAndUniqueIds) {
  const auto dataset = generate_dataset(small_options(), *attributes_, *names_);
  EXPECT_EQ(dataset.corpus.size(), 300U);
  EXPECT_EQ(dataset.queries.size(), 50U);
  EXPECT_EQ(dataset.qrels.size(), 100U);
  std::set<std::string> ids;
  for (const auto& document : dataset.corpus) ids.insert(document.id);
  EXPECT_EQ(ids.size(), dataset.corpus.size());
  for (std::size_t i = 0; i < dataset.queries.size(); ++i) {
    EXPECT_EQ(dataset.queries[i].id, "query_" + std::to_string(i));
  }
  EXPECT_EQ(dataset.statistics.relevant_pool, 11U);  // C(11, 2) = 55 >= 50 > C(10, 2)
  EXPECT_EQ(dataset.statistics.middle_initials, 0U);
}

TEST_F(GenerateTest, QrelsAreCorrectByConstruction) {
  expect_qrels_correct_by_construction(generate_dataset(small_options(), *attributes_, *names_), *attributes_, 2);
}

TEST_F(GenerateTest, QrelsAreCorrectForOtherRelevantCountsAndRanges) {
  for (const std::size_t k : {1U, 3U, 5U}) {
    auto options = small_options();
    options.relevant_per_query = k;
    options.queries = 120;
    options.attributes_per_document = {.min = 5, .max = 60};
    SCOPED_TRACE(k);
    expect_qrels_correct_by_construction(generate_dataset(options, *attributes_, *names_), *attributes_, k);
  }
}

TEST_F(GenerateTest, EveryDocumentListsTheRequestedNumberOfAttributes) {
  const auto dataset = generate_dataset(small_options(), *attributes_, *names_);
  for (const auto& [id, list] : parse_documents(dataset.corpus, *attributes_)) EXPECT_EQ(list.size(), 45U) << id;
  EXPECT_EQ(dataset.statistics.min_attributes, 45U);
  EXPECT_EQ(dataset.statistics.max_attributes, 45U);

  auto options = small_options();
  options.attributes_per_document = {.min = 20, .max = 30};
  const auto ranged = generate_dataset(options, *attributes_, *names_);
  std::set<std::size_t> counts;
  for (const auto& [id, list] : parse_documents(ranged.corpus, *attributes_)) counts.insert(list.size());
  EXPECT_EQ(*counts.begin(), 20U);
  EXPECT_EQ(*counts.rbegin(), 30U);
  EXPECT_GT(counts.size(), 5U);
}

TEST_F(GenerateTest, DocumentsRelevantToManyQueriesListThemAll) {
  // 1000 queries over a pool of 46: up to 45 query attributes per document; with 10 per document
  // the pool documents list all of theirs and no filler.
  auto options = small_options();
  options.queries = 1000;
  options.attributes_per_document = {.min = 10, .max = 10};
  const auto dataset = generate_dataset(options, *attributes_, *names_);
  EXPECT_EQ(dataset.statistics.max_attributes, 45U);
  EXPECT_EQ(dataset.statistics.min_attributes, 10U);
  expect_qrels_correct_by_construction(dataset, *attributes_, 2);
}

// LIMIT's own construction on 46 documents and 1000 queries gives LIMIT-small's structure: 37
// documents relevant to 45 queries, 2 to 38, 7 to 37 (the first 1000 pairs in lexicographic order).
TEST_F(GenerateTest, LimitSmallShapeIsReproduced) {
  auto options = small_options();
  options.documents = 46;
  options.queries = 1000;
  const auto generated = generate_dataset(options, *attributes_, *names_);
  std::map<std::string, int> generated_load;
  for (const auto& judgement : generated.qrels) ++generated_load[judgement.document_id];

  const Dataset limit_small = load_dataset(kSourceDir / "data" / "limit-small");
  std::map<std::string, int> limit_load;
  for (const auto& [query_id, judged] : limit_small.qrels) {
    for (const auto& [document_id, score] : judged) ++limit_load[document_id];
  }
  std::multiset<int> generated_loads;
  std::multiset<int> limit_loads;
  for (const auto& [id, load] : generated_load) generated_loads.insert(load);
  for (const auto& [id, load] : limit_load) limit_loads.insert(load);
  EXPECT_EQ(generated_loads, limit_loads);
  EXPECT_EQ(generated.statistics.min_attributes, 45U);
  EXPECT_EQ(generated.statistics.max_attributes, 45U);
}

TEST_F(GenerateTest, WritesBeirFolderThatLoads) {
  const auto generated = generate_dataset(small_options(), *attributes_, *names_);
  const fs::path output = folder_ / "nested" / "generated";
  write_generated_dataset(generated, output, false);
  EXPECT_EQ(read_file(output / "corpus.jsonl").substr(0, 8), "{\"_id\": ");

  const Dataset loaded = load_dataset(output);
  ASSERT_EQ(loaded.corpus.size(), generated.corpus.size());
  for (std::size_t i = 0; i < loaded.corpus.size(); ++i) {
    EXPECT_EQ(loaded.corpus[i].id, generated.corpus[i].id);
    EXPECT_EQ(loaded.corpus[i].text, generated.corpus[i].text);
  }
  ASSERT_EQ(loaded.queries.size(), generated.queries.size());
  EXPECT_EQ(loaded.qrels_report.judgements, generated.qrels.size());
  EXPECT_EQ(loaded.qrels_report.unknown_docs, 0U);
  EXPECT_EQ(loaded.qrels_report.unknown_queries, 0U);
  for (const auto& judgement : generated.qrels) {
    EXPECT_EQ(loaded.qrels.at(judgement.query_id).at(judgement.document_id), 1);
  }
  // Nothing but the dataset is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(output.parent_path()), fs::directory_iterator{}), 1);
}

TEST_F(GenerateTest, LinesAreFormattedLikeLimitFiles) {
  const fs::path limit_small = kSourceDir / "data" / "limit-small";
  const Dataset dataset = load_dataset(limit_small);
  const auto corpus_lines = lines_of(read_file(limit_small / "corpus.jsonl"));
  ASSERT_EQ(corpus_lines.size(), dataset.corpus.size());
  for (std::size_t i = 0; i < corpus_lines.size(); ++i) EXPECT_EQ(corpus_line(dataset.corpus[i]), corpus_lines[i]);
  const auto query_lines = lines_of(read_file(limit_small / "queries.jsonl"));
  ASSERT_EQ(query_lines.size(), dataset.queries.size());
  for (std::size_t i = 0; i < query_lines.size(); ++i) EXPECT_EQ(query_line(dataset.queries[i]), query_lines[i]);
  EXPECT_EQ(qrels_line({.query_id = "query_0", .document_id = "Geneva Durben", .score = 1}),
            lines_of(read_file(limit_small / "qrels.jsonl")).front());
}

TEST_F(GenerateTest, JsonEscapesAsPythonJsonDumps) {
  EXPECT_EQ(query_line({.id = "q\"1\\", .text = "Who likes D\xC3\xA9j\xC3\xA0 vu\t\x7F \xF0\x9F\x8E\xB2?"}),
            R"({"_id": "q\"1\\", "text": "Who likes D\u00e9j\u00e0 vu\t\u007f \ud83c\udfb2?"})");
}

TEST_F(GenerateTest, SmallNamesListsTakeMiddleInitials) {
  const NameLists few{.first = {"Ann", "Bob"}, .last = {"Lee", "Roe"}};
  auto options = small_options();
  options.documents = 60;
  options.queries = 10;
  const auto dataset = generate_dataset(options, *attributes_, few);
  std::set<std::string> ids;
  for (const auto& document : dataset.corpus) ids.insert(document.id);
  EXPECT_EQ(ids.size(), 60U);
  EXPECT_EQ(dataset.statistics.middle_initials, 56U);  // 4 plain pairs, the rest with an initial
  EXPECT_TRUE(std::ranges::any_of(ids, [](const std::string& id) {
    return id.size() == 10 && id[4] >= 'A' && id[4] <= 'Z' && id.substr(5, 2) == ". ";
  }));
  expect_qrels_correct_by_construction(dataset, *attributes_, 2);
  // Every id of the 4 x 27 that exist.
  options.documents = 108;
  EXPECT_EQ(generate_dataset(options, *attributes_, few).corpus.size(), 108U);
  options.documents = 109;
  EXPECT_THROW(generate_dataset(options, *attributes_, few), UsageError);
}

TEST_F(GenerateTest, RelevantPoolSize) {
  EXPECT_EQ(relevant_pool_size(1000, 2), 46U);
  EXPECT_EQ(relevant_pool_size(1035, 2), 46U);
  EXPECT_EQ(relevant_pool_size(1036, 2), 47U);
  EXPECT_EQ(relevant_pool_size(7, 1), 7U);
  EXPECT_EQ(relevant_pool_size(1, 4), 4U);
  EXPECT_EQ(relevant_pool_size(1000, 3), 20U);  // C(19, 3) = 969 < 1000 <= C(20, 3) = 1140
}

void expect_usage_error(const GenerateOptions& options, const std::vector<std::string>& attributes,
                        const NameLists& names, const std::string& message_part) {
  try {
    validate_generate_options(options, attributes, names);
    ADD_FAILURE() << "no error; expected one mentioning: " << message_part;
  } catch (const UsageError& error) {
    EXPECT_THAT(error.what(), HasSubstr(message_part));
  }
}

TEST_F(GenerateTest, ImpossibleOptionsAreUsageErrors) {
  auto options = small_options();
  options.documents = 0;
  expect_usage_error(options, *attributes_, *names_, "--documents");
  options = small_options();
  options.queries = 0;
  expect_usage_error(options, *attributes_, *names_, "--queries");
  options = small_options();
  options.relevant_per_query = 0;
  expect_usage_error(options, *attributes_, *names_, "--relevant-per-query");
  options = small_options();
  options.documents = 1;
  expect_usage_error(options, *attributes_, *names_, "--relevant-per-query 2 is more than --documents 1");
  options = small_options();
  options.queries = 1849;
  expect_usage_error(options, *attributes_, *names_, "the attribute list has 1848");
  options = small_options();
  options.queries = 1000;
  options.documents = 45;
  expect_usage_error(options, *attributes_, *names_, "needs at least 46 documents");
  options = small_options();
  options.queries = 1810;
  expect_usage_error(options, *attributes_, *names_, "leaving 38");
  options = small_options();
  options.attributes_per_document = {.min = 10, .max = 5};
  expect_usage_error(options, *attributes_, *names_, "MIN <= MAX");
  expect_usage_error(small_options(), {"A", "B", "A"}, *names_, "'A' twice");
  expect_usage_error(small_options(), *attributes_, NameLists{.first = {"Ann"}, .last = {}}, "first and last");
  expect_usage_error(small_options(), *attributes_, NameLists{.first = {"Ann", "Ann"}, .last = {"Lee"}}, "twice");
  // All documents in the pool: a pool document needs MAX minus its query attributes as fillers.
  options = small_options();
  options.documents = 46;
  options.queries = 1000;
  options.attributes_per_document = {.min = 45, .max = 45};
  std::vector<std::string> few_fillers(attributes_->begin(), attributes_->begin() + 1008);
  EXPECT_NO_THROW(validate_generate_options(options, few_fillers, *names_));  // 8 fillers: enough
  few_fillers.pop_back();
  expect_usage_error(options, few_fillers, *names_, "leaving 7");
}

TEST_F(GenerateTest, AttributeCountRangeParsing) {
  EXPECT_EQ(parse_attribute_count_range("45").min, 45U);
  EXPECT_EQ(parse_attribute_count_range("45").max, 45U);
  EXPECT_EQ(parse_attribute_count_range("30-60").min, 30U);
  EXPECT_EQ(parse_attribute_count_range("30-60").max, 60U);
  for (const char* bad : {"", "0", "-3", "3-", "a", "5-3", "4.5", "1-2-3", " 4"}) {
    EXPECT_THROW(parse_attribute_count_range(bad), UsageError) << bad;
  }
}

TEST_F(GenerateTest, RefusesNonEmptyOutputWithoutOverwrite) {
  const auto generated = generate_dataset(small_options(), *attributes_, *names_);
  const fs::path output = folder_ / "out";
  write_file(output / "notes.txt", "mine");
  EXPECT_THROW(check_output_folder(output, false), UsageError);
  EXPECT_THROW(write_generated_dataset(generated, output, false), UsageError);
  EXPECT_FALSE(fs::exists(output / "corpus.jsonl"));

  write_file(output / "corpus.jsonl", "old");
  write_generated_dataset(generated, output, true);
  EXPECT_EQ(read_file(output / "notes.txt"), "mine");  // other files are left alone
  EXPECT_EQ(load_dataset(output).corpus.size(), 300U);
  EXPECT_EQ(std::distance(fs::directory_iterator(folder_), fs::directory_iterator{}), 1);

  fs::create_directories(folder_ / "empty");
  EXPECT_NO_THROW(write_generated_dataset(generated, folder_ / "empty", false));
  write_file(folder_ / "a-file", "x");
  EXPECT_THROW(write_generated_dataset(generated, folder_ / "a-file", true), IoError);
}

TEST_F(GenerateTest, ListFilesAreValidated) {
  EXPECT_THROW(load_attributes(folder_ / "missing.txt"), IoError);
  EXPECT_THROW(load_names(folder_ / "missing.txt"), IoError);
  const auto expect_data_error = [](const fs::path& path, auto load, const std::string& where) {
    try {
      load(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const DataError& error) {
      EXPECT_THAT(error.what(), HasSubstr(where));
    }
  };
  const auto attributes = [](const fs::path& path) { return load_attributes(path); };
  write_file(folder_ / "a1", "Apples\nPears\nApples\n");
  expect_data_error(folder_ / "a1", attributes, "a1:3: duplicate attribute 'Apples'");
  write_file(folder_ / "a2", "Apples\nSalt, Pepper\n");
  expect_data_error(folder_ / "a2", attributes, "a2:2");
  write_file(folder_ / "a3", "\n\n");
  expect_data_error(folder_ / "a3", attributes, "no attributes");
  write_file(folder_ / "a4", "Apples\n\xC3(\n");
  expect_data_error(folder_ / "a4", attributes, "a4:2: not valid UTF-8");
  write_file(folder_ / "a5", "  Apples \r\n\nFish and Chips\n");
  EXPECT_EQ(load_attributes(folder_ / "a5"), (std::vector<std::string>{"Apples", "Fish and Chips"}));
}

TEST_F(GenerateTest, NamesFileIsValidated) {
  const auto expect_data_error = [](const fs::path& path, const std::string& where) {
    try {
      load_names(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const DataError& error) {
      EXPECT_THAT(error.what(), HasSubstr(where));
    }
  };
  write_file(folder_ / "n1", "Ann\n[first]\n");
  expect_data_error(folder_ / "n1", "n1:1: a name before any section");
  write_file(folder_ / "n2", "[first]\nAnn\nAnn\n[last]\nLee\n");
  expect_data_error(folder_ / "n2", "n2:3: duplicate name");
  write_file(folder_ / "n3", "[first]\nAnn\n");
  expect_data_error(folder_ / "n3", "no last names");
  write_file(folder_ / "n4", "[first]\nAnn Marie\n[last]\nLee\n");
  expect_data_error(folder_ / "n4", "n4:2: a name is one word");
  write_file(folder_ / "n5", "[first]\nAnn\n[middle]\n");
  expect_data_error(folder_ / "n5", "n5:3: unknown section");
  write_file(folder_ / "n6", "# comment\n[last]\r\nLee\r\n\n[first]\nAnn\n");
  const NameLists names = load_names(folder_ / "n6");
  EXPECT_EQ(names.first, std::vector<std::string>{"Ann"});
  EXPECT_EQ(names.last, std::vector<std::string>{"Lee"});
}

}  // namespace
}  // namespace limit_eval::data
