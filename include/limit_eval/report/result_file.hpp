#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/sparse/efficiency.hpp"

namespace limit_eval::report {

inline constexpr const char* kResultsFormat = "limit-eval-results/1";

// Where a result was measured (the "environment" object of a results JSON).
struct MeasuredOn {
  std::string device;       // "cpu", "cuda", "cuda:0"
  std::string device_name;  // CPU or GPU model name
  std::string dtype;
  std::string date;  // ISO 8601 UTC
  std::optional<std::uint64_t> threads;
  std::optional<std::uint64_t> batch_size;  // absent for unbatched models (BM25)
  std::string cpu;
  std::string host;
  std::string limit_eval_version;
  std::string git_commit;
};

// The evaluation settings recorded in "settings".
struct RecordedSettings {
  std::optional<std::uint64_t> top_k;
  std::vector<int> k_values;
  std::optional<int> relevance_level;
  std::optional<bool> ignore_identical_ids;
};

// A fine-tuned model's "model.description.training" object. `samples` set marks a fine-tuned
// result; 0 is the untrained base model evaluated as the fine-tuning series' starting point.
struct TrainingRecord {
  std::uint64_t samples = 0;
  std::string base_model;  // "training.base_model", else the result's own model name
};

// One results JSON as `limit-eval` writes it.
struct ResultFile {
  std::filesystem::path path;           // as read
  std::filesystem::path relative_path;  // to the results folder, e.g. limit-small/bm25.json
  std::string model;
  std::string dataset;
  // dataset.documents, dataset.queries and dataset.qrels_report.judgements, when recorded.
  std::optional<std::uint64_t> dataset_documents;
  std::optional<std::uint64_t> dataset_queries;
  std::optional<std::uint64_t> qrels_judgements;
  std::string dataset_path;  // dataset.path as recorded (the folder evaluated); empty when absent
  nlohmann::json model_description;
  eval::MetricValues metrics;
  // "per_query": evaluated query id -> metric values (empty when the file has none).
  std::map<std::string, eval::MetricValues> per_query;
  // "efficiency", when recorded (results written before it existed have none).
  std::optional<sparse::Efficiency> efficiency;
  std::optional<double> corpus_encoding_s;
  std::optional<double> query_encoding_s;
  MeasuredOn environment;
  RecordedSettings settings;
  std::optional<TrainingRecord> training;
  // Size of the term space: description.vocabulary_size (BM25) or description.vocab_size (exported
  // models). Absent when the description carries neither.
  std::optional<std::uint64_t> dimensions;
  // description.kind ("bm25", "neural", ...); empty when absent.
  std::string model_kind;
  // Hugging Face id of the source model (description.source.id), when recorded.
  std::optional<std::string> source_id;
  // Exported model folder (description.folder), when recorded.
  std::optional<std::string> model_folder;

  [[nodiscard]] bool fine_tuned() const noexcept { return training.has_value(); }
};

// Everything a results JSON holds, as `limit-eval` (the default command) writes it. The
// objects that other modules own (the model's description, the dataset and its qrels report, the
// evaluation counts, timings, cache report and environment) are passed through as JSON.
struct ResultRecord {
  std::string model;
  nlohmann::json model_description = nlohmann::json::object();
  nlohmann::json dataset = nlohmann::json::object();     // name, path, documents, queries, qrels_report
  nlohmann::json settings = nlohmann::json::object();    // top_k, k_values, relevance_level, ignore_identical_ids
  nlohmann::json evaluation = nlohmann::json::object();  // evaluated_queries, ...
  eval::MetricValues metrics;
  nlohmann::json timings = nlohmann::json::object();
  nlohmann::json cache;                                  // null: not written
  nlohmann::json environment = nlohmann::json::object();
  std::optional<sparse::Efficiency> efficiency;
  std::map<std::string, eval::MetricValues> per_query;
};

// The results JSON of `record` (format kResultsFormat), which read_result_file reads back.
nlohmann::json result_json(const ResultRecord& record);

// The "efficiency" object: {"dimensions", "documents": {"vectors", "active_dims": {"mean",
// "median", "p99", "max"}, "sparsity_ratio"}, "queries": {...}, "flops", "postings_per_query",
// "index_bytes"}.
nlohmann::json efficiency_json(const sparse::Efficiency& efficiency);

// Writes result_json(record) into `file` (2-space indentation, a final newline); the caller
// commits it together with the run's other outputs.
void write_result_file(AtomicFileWriter& file, const ResultRecord& record);

// Parses and checks one results JSON. Throws DataError naming the file and the offending key for
// invalid JSON, a format other than limit-eval-results/1, or a missing or mistyped field, and
// IoError when the file cannot be read.
ResultFile read_result_file(const std::filesystem::path& path, const std::filesystem::path& relative_path);

// Every *.json file under `folder` (recursively), sorted by relative path. IoError when the folder
// does not exist; DataError for the first invalid file.
std::vector<ResultFile> read_results_folder(const std::filesystem::path& folder);

}  // namespace limit_eval::report
