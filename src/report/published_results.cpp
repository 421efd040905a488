#include "limit_eval/report/published_results.hpp"

#include <charconv>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/input_limits.hpp"

namespace limit_eval::report {

namespace {

using Json = nlohmann::ordered_json;  // keeps the paper's model order

struct Context {
  const std::filesystem::path& path;

  [[noreturn]] void fail(const std::string& pointer, const std::string& problem) const {
    throw DataError(path, 0, fmt::format("invalid published results: {} {}", pointer, problem));
  }

  const Json& object(const Json& parent, const std::string& pointer, const std::string& key) const {
    const auto it = parent.find(key);
    if (it == parent.end()) fail(pointer + "/" + key, "is missing");
    if (!it->is_object()) fail(pointer + "/" + key, "must be an object");
    return *it;
  }

  std::string source(const Json& section, const std::string& pointer) const {
    const auto it = section.find("source");
    if (it == section.end() || !it->is_string()) fail(pointer + "/source", "must be a string naming the source");
    return it->get<std::string>();
  }
};

// A row of metric values (and the seed's timing fields); `scale` converts percentages to fractions.
PublishedRow read_row(const Context& context, const Json& row, const std::string& pointer, double scale) {
  PublishedRow published;
  for (const auto& [key, value] : row.items()) {
    if (key == "dim") continue;
    if (!value.is_number()) context.fail(pointer + "/" + key, "must be a number");
    const double number = value.get<double>();
    if (key == "corpus_encoding_s") {
      published.corpus_encoding_s = number;
    } else if (key == "query_encoding_s") {
      published.query_encoding_s = number;
    } else {
      published.metrics.emplace(key, number / scale);
    }
  }
  return published;
}

}  // namespace

PublishedResults read_published_results(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open the published results for reading");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (find_json_too_deep(text) != std::string::npos) {
    throw DataError(path, 0, fmt::format("invalid JSON: nested more than {} levels deep", kMaxJsonDepth));
  }
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number overflow
    throw DataError(path, 0, fmt::format("invalid JSON: {}", e.what()));
  }
  const Context context{path};
  if (!root.is_object()) context.fail("/", "must be an object");
  PublishedResults published;

  const Json& zero_shot = context.object(root, "", "zero_shot");
  published.zero_shot_source = context.source(zero_shot, "/zero_shot");
  for (const auto& [dataset, models] : zero_shot.items()) {
    if (dataset == "source") continue;
    const std::string pointer = "/zero_shot/" + dataset;
    if (!models.is_object()) context.fail(pointer, "must be an object");
    for (const auto& [model, row] : models.items()) {
      if (!row.is_object()) context.fail(pointer + "/" + model, "must be an object");
      published.zero_shot[dataset][model] = read_row(context, row, pointer + "/" + model, 1.0);
    }
  }

  const Json& fine_tune = context.object(root, "", "finetune");
  published.fine_tune_source = context.source(fine_tune, "/finetune");
  for (const auto& [dataset, series] : fine_tune.items()) {
    if (dataset == "source") continue;
    const std::string pointer = "/finetune/" + dataset;
    if (!series.is_object()) context.fail(pointer, "must be an object");
    for (const auto& [samples_text, row] : series.items()) {
      std::uint64_t samples = 0;
      const auto* end = samples_text.data() + samples_text.size();
      if (const auto parsed = std::from_chars(samples_text.data(), end, samples);
          parsed.ec != std::errc{} || parsed.ptr != end) {
        context.fail(pointer + "/" + samples_text, "must be keyed by a number of training samples");
      }
      if (!row.is_object()) context.fail(pointer + "/" + samples_text, "must be an object");
      published.fine_tune[dataset][samples] = read_row(context, row, pointer + "/" + samples_text, 1.0);
    }
  }

  const Json& paper = context.object(root, "", "limit_paper");
  published.paper_source = context.source(paper, "/limit_paper");
  for (const auto& [dataset, models] : paper.items()) {
    if (dataset == "source") continue;
    const std::string pointer = "/limit_paper/" + dataset;
    if (!models.is_object()) context.fail(pointer, "must be an object");
    for (const auto& [model, row] : models.items()) {
      const std::string model_pointer = pointer + "/" + model;
      if (!row.is_object()) context.fail(model_pointer, "must be an object");
      PaperModel entry{.name = model, .dimensions = std::nullopt, .metrics = {}};
      if (const auto dim = row.find("dim"); dim != row.end() && !dim->is_null()) {
        if (!dim->is_number_unsigned()) context.fail(model_pointer + "/dim", "must be a positive integer or null");
        entry.dimensions = dim->get<std::uint64_t>();
      }
      entry.metrics = read_row(context, row, model_pointer, 100.0).metrics;  // the paper reports percent
      published.paper[dataset].push_back(std::move(entry));
    }
  }
  return published;
}

}  // namespace limit_eval::report
