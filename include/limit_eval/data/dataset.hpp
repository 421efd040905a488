#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace limit_eval::data {

struct Document {
  std::string id;
  std::string title;
  std::string text;
};

struct Query {
  std::string id;
  std::string text;
};

// query id -> (doc id -> graded relevance). Judgements of 0 or below are kept (they matter to
// nothing but are part of the file); relevance thresholds are applied by the metrics.
using Qrels = std::unordered_map<std::string, std::unordered_map<std::string, int>>;

// What loading the qrels tolerated. Nothing is dropped silently: every count here is reported.
struct QrelsReport {
  std::filesystem::path path;
  std::size_t lines = 0;              // judgement lines read (header excluded)
  std::size_t judgements = 0;         // (query, doc) pairs kept
  std::size_t unknown_query_judgements = 0;  // judgements naming a query not in the query set
  std::size_t unknown_doc_judgements = 0;    // judgements naming a document not in the corpus
  std::size_t unknown_queries = 0;    // distinct unknown query ids
  std::size_t unknown_docs = 0;       // distinct unknown doc ids
  std::size_t queries_without_judgements = 0;  // queries of the query set absent from the qrels
};

struct Dataset {
  std::string name;                 // folder name, e.g. "limit-small"
  std::filesystem::path root;
  std::filesystem::path corpus_path;
  std::filesystem::path queries_path;
  std::vector<Document> corpus;
  std::vector<Query> queries;
  Qrels qrels;
  QrelsReport qrels_report;
};

// Resolves --dataset: an existing folder path is taken as it is; otherwise a bare name resolves
// to <data_root>/<name>. Throws UsageError naming both candidates when neither exists.
std::filesystem::path resolve_dataset(const std::string& name_or_path, const std::filesystem::path& data_root);

// Reads a BEIR/MTEB folder: corpus.jsonl, queries.jsonl and qrels as qrels.jsonl (query-id,
// corpus-id, score) or qrels/<split>.tsv (BEIR's header + query-id, corpus-id, score).
// Validates everything (JSON syntax, required string fields, UTF-8, duplicate ids, empty sets,
// integer scores) and throws DataError naming the file and line or id. A missing
// corpus.jsonl of the "limit" dataset names the download command.
Dataset load_dataset(const std::filesystem::path& root, const std::string& split = "test");

// Qrels file formats. automatic: .jsonl is jsonl; otherwise a first line of four blank-separated
// fields ending in an integer is TREC; else .tsv (or three tab-separated fields) is BEIR's TSV, and
// a line starting with '{' is jsonl.
enum class QrelsFormat {
  automatic,
  jsonl,     // {"query-id": ..., "corpus-id": ..., "score": ...} per line
  beir_tsv,  // header "query-id<TAB>corpus-id<TAB>score", then one judgement per line
  trec,      // trec_eval's "query-id iteration doc-id relevance" per line, no header
};
std::string to_string(QrelsFormat format);  // auto, jsonl, tsv, trec

std::vector<Document> load_corpus(const std::filesystem::path& path);
std::vector<Query> load_queries(const std::filesystem::path& path);
// Loads qrels in `format` (automatic: detected, see QrelsFormat), with the same strict validation
// for every format. Does not check ids against a corpus.
Qrels load_qrels(const std::filesystem::path& path, QrelsReport* report = nullptr,
                 QrelsFormat format = QrelsFormat::automatic);

// Counts qrels ids unknown to the corpus/query set into `report` (they stay in the qrels: the
// metrics ignore queries without a run, and unknown docs can never be retrieved).
void check_qrels_against(const Qrels& qrels, const std::vector<Document>& corpus,
                         const std::vector<Query>& queries, QrelsReport& report);

}  // namespace limit_eval::data
