#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "limit_eval/data/dataset.hpp"

namespace limit_eval::data {

// Synthetic LIMIT-style datasets (Weller et al. 2025, arXiv 2508.21038): documents
// "<Name> likes A, B, ... and Z.", queries "Who likes X?", and qrels that hold by construction:
// a document is relevant to "Who likes X?" exactly when its attribute list contains X.
// The same options and seed give byte-identical files on any platform: the generator draws from
// std::mt19937_64 (whose output the standard fixes) through its own reductions, never through
// the implementation-defined std::uniform_int_distribution or std::shuffle.

// How many attributes a document lists: drawn uniformly in [min, max] for every document. A
// document relevant to more queries than that lists all of their attributes (as LIMIT does).
struct AttributeCountRange {
  std::size_t min = 45;  // LIMIT-small: every document lists exactly 45 attributes
  std::size_t max = 45;
};

// "N" or "MIN-MAX" (both at least 1, MIN <= MAX). Throws UsageError.
AttributeCountRange parse_attribute_count_range(std::string_view text);

struct GenerateOptions {
  std::size_t documents = 50000;
  std::size_t queries = 1000;
  std::size_t relevant_per_query = 2;
  AttributeCountRange attributes_per_document;
  std::uint64_t seed = 42;
};

// First and last names; document ids are "First Last" ("First M. Last" once a pair is taken).
struct NameLists {
  std::vector<std::string> first;
  std::vector<std::string> last;
};

// One attribute per line (surrounding whitespace trimmed, blank lines skipped). Throws IoError when
// unreadable, DataError (file, line) on invalid UTF-8, a duplicate, or a comma (it would make the
// document sentence ambiguous).
std::vector<std::string> load_attributes(const std::filesystem::path& path);

// A names file: '#' comment lines, then a "[first]" section and a "[last]" section, one name per
// line. Throws IoError when unreadable, DataError (file, line) on a malformed file.
NameLists load_names(const std::filesystem::path& path);

// The smallest n such that C(n, k) >= queries: the number of documents that the queries' relevant
// sets are drawn from (LIMIT's "dense" qrels, every k-subset of n documents being some query's).
std::size_t relevant_pool_size(std::size_t queries, std::size_t relevant_per_query);

// Throws UsageError when the options cannot be met with these attributes and names.
void validate_generate_options(const GenerateOptions& options, const std::vector<std::string>& attributes,
                               const NameLists& names);

struct Judgement {
  std::string query_id;
  std::string document_id;
  int score = 1;
};

struct GenerationStatistics {
  std::size_t relevant_pool = 0;            // documents relevant to at least one query
  std::size_t filler_attributes = 0;        // attributes that no query asks about
  std::size_t min_attributes = 0, max_attributes = 0;  // per document
  double mean_attributes = 0.0;
  std::size_t min_text_chars = 0, max_text_chars = 0;  // per document text, in bytes
  double mean_text_chars = 0.0;
  std::size_t middle_initials = 0;          // ids disambiguated with a middle initial
  std::size_t reused_query_attributes = 0;  // training set: queries asking about an attribute again
};

struct GeneratedDataset {
  std::vector<Document> corpus;
  std::vector<Query> queries;
  std::vector<Judgement> qrels;  // query order, then the query's relevant documents in pool order
  GenerationStatistics statistics;
};

// Validates (see validate_generate_options), then builds the dataset in memory.
GeneratedDataset generate_dataset(const GenerateOptions& options, const std::vector<std::string>& attributes,
                                  const NameLists& names);

// Throws when `output` cannot receive a generated dataset: IoError when it exists and is not a
// folder, UsageError when it is a non-empty folder and not `overwrite`. Cheap: call it before
// generating so that a refusal costs nothing.
void check_output_folder(const std::filesystem::path& output, bool overwrite);

// Writes corpus.jsonl, queries.jsonl and qrels.jsonl (the field names and formatting of LIMIT's
// files) into a temporary folder beside `output`, then moves them into place. An `output` that is
// missing or empty is replaced as a whole; a non-empty one is refused (UsageError) unless
// `overwrite`, in which case the three files are replaced and any other entry is left alone.
void write_generated_dataset(const GeneratedDataset& dataset, const std::filesystem::path& output, bool overwrite);

// The seed's training set (DESIGN.md §5, "created synthetically using non-test set attributes"):
// documents doc_0 ... doc_{N-1} with an empty title and the text "<First> <Last> likes a, b, c.",
// each listing a uniformly drawn count of distinct training attributes in random order; queries
// "Who likes X?" over distinct attributes that at least `relevant_per_query` documents list (an
// attribute is asked about again only once every qualifying one has been), each with that many
// relevant documents drawn from those listing X, score 1. Deterministic like generate_dataset.
struct TrainSetOptions {
  std::size_t documents = 50000;
  std::size_t queries = 850;
  std::size_t relevant_per_query = 2;
  AttributeCountRange attributes_per_document{5, 15};
  std::uint64_t seed = 42;
};

// X of every query "Who likes X?" in a queries file (LIMIT's test queries). Throws what
// load_queries throws, and DataError (file, query id) for a query of another form.
std::vector<std::string> load_asked_attributes(const std::filesystem::path& queries_file);

// `attributes` without those in `excluded`, in list order.
std::vector<std::string> attributes_except(const std::vector<std::string>& attributes,
                                           const std::vector<std::string>& excluded);

// Throws UsageError when the options cannot be met with these (training) attributes and names.
void validate_train_set_options(const TrainSetOptions& options, const std::vector<std::string>& attributes,
                                const NameLists& names);

// Validates, then builds the training set in memory from the training attributes (the test ones
// already removed). Throws UsageError when no attribute ends up listed by enough documents.
GeneratedDataset build_train_set(const TrainSetOptions& options, const std::vector<std::string>& attributes,
                                 const NameLists& names);

// One jsonl line of each file, without the newline (what write_generated_dataset writes).
std::string corpus_line(const Document& document);
std::string query_line(const Query& query);
std::string qrels_line(const Judgement& judgement);

}  // namespace limit_eval::data
