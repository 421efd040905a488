#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "limit_eval/eval/metrics.hpp"

namespace limit_eval::report {

// A published row: metrics as fractions (the LIMIT paper's percentages divided by 100) and, for the
// seed study, its encoding times (A100).
struct PublishedRow {
  eval::MetricValues metrics;
  std::optional<double> corpus_encoding_s;
  std::optional<double> query_encoding_s;
};

// A model of the LIMIT paper's tables, in the paper's order.
struct PaperModel {
  std::string name;
  std::optional<std::uint64_t> dimensions;  // absent: no single embedding size (BM25, multi-vector)
  eval::MetricValues metrics;               // fractions
};

// reference/published-results.json: the numbers our results are compared with and plotted beside.
struct PublishedResults {
  std::string zero_shot_source;
  std::string fine_tune_source;
  std::string paper_source;
  std::map<std::string, std::map<std::string, PublishedRow>> zero_shot;       // dataset -> model -> row
  std::map<std::string, std::map<std::uint64_t, PublishedRow>> fine_tune;     // dataset -> samples -> row
  std::map<std::string, std::vector<PaperModel>> paper;                       // dataset -> models
};

// The model the seed study fine-tuned (its "finetune" section says v3-gte); its published fine-tuned
// rows are compared only with fine-tuning series of this base model.
inline constexpr const char* kSeedFineTunedModel = "v3-gte";

// Name of BM25 among the LIMIT paper's models.
inline constexpr const char* kPaperBm25Name = "BM25";

// Reads and checks the file; DataError naming the file and key for anything malformed.
PublishedResults read_published_results(const std::filesystem::path& path);

}  // namespace limit_eval::report
