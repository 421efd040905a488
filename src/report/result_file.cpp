#include "limit_eval/report/result_file.hpp"

#include <algorithm>
#include <cassert>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/input_limits.hpp"

namespace limit_eval::report {

namespace {

using Json = nlohmann::json;

// Typed access to a results JSON that reports the file and the JSON pointer of what is wrong.
class FieldReader {
 public:
  explicit FieldReader(const std::filesystem::path& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& pointer, const std::string& problem) const {
    throw DataError(path_, 0, fmt::format("not a valid limit-eval result: {} {}", pointer, problem));
  }

  const Json& object(const Json& parent, const std::string& pointer, const char* key) const {
    const Json* value = find(parent, key);
    if (value == nullptr) fail(pointer + "/" + key, "is missing");
    if (!value->is_object()) fail(pointer + "/" + key, "must be an object");
    return *value;
  }

  std::string string(const Json& parent, const std::string& pointer, const char* key) const {
    const Json* value = find(parent, key);
    if (value == nullptr) fail(pointer + "/" + key, "is missing");
    if (!value->is_string()) fail(pointer + "/" + key, "must be a string");
    return value->get<std::string>();
  }

  // Absent and null read as "".
  std::string optional_string(const Json& parent, const std::string& pointer, const char* key) const {
    const Json* value = find(parent, key);
    if (value == nullptr || value->is_null()) return {};
    if (!value->is_string()) fail(pointer + "/" + key, "must be a string");
    return value->get<std::string>();
  }

  std::optional<double> optional_number(const Json& parent, const std::string& pointer, const char* key) const {
    const Json* value = find(parent, key);
    if (value == nullptr || value->is_null()) return std::nullopt;
    if (!value->is_number()) fail(pointer + "/" + key, "must be a number");
    return value->get<double>();
  }

  std::optional<std::uint64_t> optional_count(const Json& parent, const std::string& pointer, const char* key) const {
    const Json* value = find(parent, key);
    if (value == nullptr || value->is_null()) return std::nullopt;
    if (!value->is_number_unsigned() && !(value->is_number_integer() && value->get<std::int64_t>() >= 0)) {
      fail(pointer + "/" + key, "must be a non-negative integer");
    }
    return value->get<std::uint64_t>();
  }

  double required_number(const Json& parent, const std::string& pointer, const char* key) const {
    const auto value = optional_number(parent, pointer, key);
    if (!value) fail(pointer + "/" + key, "is missing");
    return *value;
  }

  std::uint64_t required_count(const Json& parent, const std::string& pointer, const char* key) const {
    const auto value = optional_count(parent, pointer, key);
    if (!value) fail(pointer + "/" + key, "is missing");
    return *value;
  }

  std::optional<bool> optional_bool(const Json& parent, const std::string& pointer, const char* key) const {
    const Json* value = find(parent, key);
    if (value == nullptr || value->is_null()) return std::nullopt;
    if (!value->is_boolean()) fail(pointer + "/" + key, "must be true or false");
    return value->get<bool>();
  }

 private:
  static const Json* find(const Json& parent, const char* key) {
    const auto it = parent.find(key);
    return it == parent.end() ? nullptr : &*it;
  }

  const std::filesystem::path& path_;
};

sparse::ActiveDimensions read_active_dimensions(const FieldReader& read, const Json& parent, const std::string& pointer,
                                                const char* key) {
  const Json& side = read.object(parent, pointer, key);
  const std::string at = pointer + "/" + key;
  sparse::ActiveDimensions active;
  active.vectors = read.required_count(side, at, "vectors");
  const Json& dims = read.object(side, at, "active_dims");
  active.mean = read.required_number(dims, at + "/active_dims", "mean");
  active.median = read.required_number(dims, at + "/active_dims", "median");
  active.p99 = read.required_number(dims, at + "/active_dims", "p99");
  active.max = read.required_count(dims, at + "/active_dims", "max");
  active.sparsity_ratio = read.required_number(side, at, "sparsity_ratio");
  return active;
}

sparse::Efficiency read_efficiency(const FieldReader& read, const Json& efficiency) {
  sparse::Efficiency result;
  result.dimensions = read.required_count(efficiency, "/efficiency", "dimensions");
  result.documents = read_active_dimensions(read, efficiency, "/efficiency", "documents");
  result.queries = read_active_dimensions(read, efficiency, "/efficiency", "queries");
  result.flops = read.required_number(efficiency, "/efficiency", "flops");
  result.postings_per_query = read.required_number(efficiency, "/efficiency", "postings_per_query");
  result.index_bytes = read.required_count(efficiency, "/efficiency", "index_bytes");
  return result;
}

Json active_dimensions_json(const sparse::ActiveDimensions& active) {
  return {{"vectors", active.vectors},
          {"active_dims", {{"mean", active.mean}, {"median", active.median}, {"p99", active.p99}, {"max", active.max}}},
          {"sparsity_ratio", active.sparsity_ratio}};
}

Json parse_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open for reading");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw IoError(path, "read failed");
  const std::string text = contents.str();
  if (const std::size_t at = find_json_too_deep(text); at != std::string::npos) {
    const auto line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
    throw DataError(path, line, fmt::format("invalid JSON: nested more than {} levels deep", kMaxJsonDepth));
  }
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based offset of the error; report its line.
    const auto end = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    const auto line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<long>(end), '\n'));
    throw DataError(path, line, fmt::format("invalid JSON: {}", e.what()));
  } catch (const Json::out_of_range& e) {  // a number too large for a double: no position given
    throw DataError(path, 0, fmt::format("invalid JSON: {}", e.what()));
  }
}

}  // namespace

Json efficiency_json(const sparse::Efficiency& efficiency) {
  return {{"dimensions", efficiency.dimensions},
          {"documents", active_dimensions_json(efficiency.documents)},
          {"queries", active_dimensions_json(efficiency.queries)},
          {"flops", efficiency.flops},
          {"postings_per_query", efficiency.postings_per_query},
          {"index_bytes", efficiency.index_bytes}};
}

namespace {

// result_json without its per-query values ("per_query" null).
Json result_json_without_per_query(const ResultRecord& record) {
  Json root = {
      {"format", kResultsFormat},
      {"model", {{"name", record.model}, {"description", record.model_description}}},
      {"dataset", record.dataset},
      {"settings", record.settings},
      {"evaluation", record.evaluation},
      {"metrics", record.metrics},
      {"timings_s", record.timings},
      {"environment", record.environment},
      {"per_query", nullptr},
  };
  if (!record.cache.is_null()) root["cache"] = record.cache;
  if (record.efficiency) root["efficiency"] = efficiency_json(*record.efficiency);
  return root;
}

// An object as dump(2) prints it at nesting depth `depth` (entries indented by 2 * (depth + 1)
// spaces), each value written by write_value.
template <typename Map, typename WriteValue>
void write_object(std::ostream& out, const Map& entries, std::size_t depth, const WriteValue& write_value) {
  if (entries.empty()) {
    out << "{}";
    return;
  }
  out << "{\n";
  const std::string indent(2 * (depth + 1), ' ');
  const char* separator = "";
  for (const auto& [key, value] : entries) {
    out << separator << indent << Json(key).dump() << ": ";
    write_value(value);
    separator = ",\n";
  }
  out << '\n' << std::string(2 * depth, ' ') << '}';
}

// The "per_query" object (at depth 1 of the results JSON), one value at a time: as one JSON object,
// a million queries' values would take as much memory again as they do.
void write_per_query(std::ostream& out, const std::map<std::string, eval::MetricValues>& per_query) {
  write_object(out, per_query, 1, [&out](const eval::MetricValues& values) {
    write_object(out, values, 2, [&out](double value) { out << Json(value).dump(); });
  });
}

}  // namespace

Json result_json(const ResultRecord& record) {
  Json root = result_json_without_per_query(record);
  Json& per_query = root["per_query"];
  per_query = Json::object();
  for (const auto& [query_id, values] : record.per_query) per_query[query_id] = values;
  return root;
}

void write_result_file(AtomicFileWriter& file, const ResultRecord& record) {
  // What dump(2) prints of result_json(record), with the per-query values streamed into the text of
  // the rest, which holds "per_query" once at the top level.
  const std::string text = result_json_without_per_query(record).dump(2);
  constexpr std::string_view kPlaceholder = "\n  \"per_query\": null";
  const auto at = text.find(kPlaceholder);
  assert(at != std::string::npos && text.find(kPlaceholder, at + 1) == std::string::npos);
  const std::size_t value_at = at + kPlaceholder.size() - std::string_view("null").size();
  auto& out = file.stream();
  out.write(text.data(), static_cast<std::streamsize>(value_at));
  write_per_query(out, record.per_query);
  out.write(text.data() + at + kPlaceholder.size(), static_cast<std::streamsize>(text.size() - at - kPlaceholder.size()));
  out << '\n';
}

ResultFile read_result_file(const std::filesystem::path& path, const std::filesystem::path& relative_path) {
  const Json root = parse_file(path);
  const FieldReader read(path);
  if (!root.is_object()) read.fail("/", "must be an object");
  const std::string format = read.string(root, "", "format");
  if (format != kResultsFormat) {
    read.fail("/format", fmt::format("is \"{}\", expected \"{}\"", format, kResultsFormat));
  }

  ResultFile result;
  result.path = path;
  result.relative_path = relative_path;

  const Json& model = read.object(root, "", "model");
  result.model = read.string(model, "/model", "name");
  if (result.model.empty()) read.fail("/model/name", "is empty");
  if (const auto it = model.find("description"); it != model.end() && !it->is_null()) {
    if (!it->is_object()) read.fail("/model/description", "must be an object");
    result.model_description = *it;
  } else {
    result.model_description = Json::object();
  }
  const Json& description = result.model_description;
  result.dimensions = read.optional_count(description, "/model/description", "vocabulary_size");
  if (!result.dimensions) result.dimensions = read.optional_count(description, "/model/description", "vocab_size");
  result.model_kind = read.optional_string(description, "/model/description", "kind");
  if (const std::string folder = read.optional_string(description, "/model/description", "folder"); !folder.empty()) {
    result.model_folder = folder;
  }
  if (const auto it = description.find("source"); it != description.end() && it->is_object()) {
    if (const std::string id = read.optional_string(*it, "/model/description/source", "id"); !id.empty()) {
      result.source_id = id;
    }
  }
  if (const auto it = description.find("training"); it != description.end() && !it->is_null()) {
    if (!it->is_object()) read.fail("/model/description/training", "must be an object");
    const auto samples = read.optional_count(*it, "/model/description/training", "samples");
    if (samples) {
      std::string base = read.optional_string(*it, "/model/description/training", "base_model");
      result.training = TrainingRecord{*samples, base.empty() ? result.model : base};
    }
  }

  const Json& dataset = read.object(root, "", "dataset");
  result.dataset = read.string(dataset, "/dataset", "name");
  if (result.dataset.empty()) read.fail("/dataset/name", "is empty");
  result.dataset_documents = read.optional_count(dataset, "/dataset", "documents");
  result.dataset_queries = read.optional_count(dataset, "/dataset", "queries");
  if (const auto it = dataset.find("qrels_report"); it != dataset.end() && !it->is_null()) {
    if (!it->is_object()) read.fail("/dataset/qrels_report", "must be an object");
    result.qrels_judgements = read.optional_count(*it, "/dataset/qrels_report", "judgements");
  }
  result.dataset_path = read.optional_string(dataset, "/dataset", "path");

  const Json& metrics = read.object(root, "", "metrics");
  for (const auto& [name, value] : metrics.items()) {
    if (!value.is_number()) read.fail("/metrics/" + name, "must be a number");
    result.metrics.emplace(name, value.get<double>());
  }

  if (const auto it = root.find("per_query"); it != root.end() && !it->is_null()) {
    if (!it->is_object()) read.fail("/per_query", "must be an object");
    for (const auto& [query_id, values] : it->items()) {
      if (!values.is_object()) read.fail("/per_query/" + query_id, "must be an object");
      auto& query = result.per_query[query_id];
      for (const auto& [name, value] : values.items()) {
        if (!value.is_number()) read.fail("/per_query/" + query_id + "/" + name, "must be a number");
        query.emplace(name, value.get<double>());
      }
    }
  }
  if (const auto it = root.find("efficiency"); it != root.end() && !it->is_null()) {
    if (!it->is_object()) read.fail("/efficiency", "must be an object");
    result.efficiency = read_efficiency(read, *it);
  }

  if (const auto it = root.find("timings_s"); it != root.end()) {
    if (!it->is_object()) read.fail("/timings_s", "must be an object");
    // After a cache hit, corpus_encoding is the load time; the encoding time is the cached one.
    result.corpus_encoding_s = read.optional_number(*it, "/timings_s", "corpus_encoding_cached");
    if (!result.corpus_encoding_s) {
      result.corpus_encoding_s = read.optional_number(*it, "/timings_s", "corpus_encoding");
    }
    result.query_encoding_s = read.optional_number(*it, "/timings_s", "query_encoding");
  }

  // Device, dtype and date are required: without them a timing could be read as the wrong device's.
  const Json& environment = read.object(root, "", "environment");
  auto& measured = result.environment;
  measured.device = read.string(environment, "/environment", "device");
  measured.dtype = read.string(environment, "/environment", "dtype");
  measured.date = read.string(environment, "/environment", "date");
  measured.device_name = read.optional_string(environment, "/environment", "device_name");
  measured.threads = read.optional_count(environment, "/environment", "threads");
  measured.batch_size = read.optional_count(environment, "/environment", "batch_size");
  measured.cpu = read.optional_string(environment, "/environment", "cpu");
  measured.host = read.optional_string(environment, "/environment", "host");
  measured.limit_eval_version = read.optional_string(environment, "/environment", "limit_eval_version");
  measured.git_commit = read.optional_string(environment, "/environment", "git_commit");

  if (const auto it = root.find("settings"); it != root.end()) {
    if (!it->is_object()) read.fail("/settings", "must be an object");
    auto& settings = result.settings;
    settings.top_k = read.optional_count(*it, "/settings", "top_k");
    if (const auto relevance = read.optional_number(*it, "/settings", "relevance_level")) {
      settings.relevance_level = static_cast<int>(*relevance);
    }
    settings.ignore_identical_ids = read.optional_bool(*it, "/settings", "ignore_identical_ids");
    if (const auto k = it->find("k_values"); k != it->end() && !k->is_null()) {
      if (!k->is_array()) read.fail("/settings/k_values", "must be an array of integers");
      for (const auto& value : *k) {
        if (!value.is_number_integer()) read.fail("/settings/k_values", "must be an array of integers");
        settings.k_values.push_back(value.get<int>());
      }
    }
  }
  return result;
}

std::vector<ResultFile> read_results_folder(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) throw IoError(folder, "results folder does not exist");
  std::vector<std::filesystem::path> files;
  std::filesystem::recursive_directory_iterator it(folder, std::filesystem::directory_options::skip_permission_denied,
                                                   ec);
  if (ec) throw IoError(folder, "cannot list: " + ec.message());
  for (const std::filesystem::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) throw IoError(folder, "cannot list: " + ec.message());
    if (it->is_regular_file(ec) && it->path().extension() == ".json") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::vector<ResultFile> results;
  results.reserve(files.size());
  for (const auto& file : files) results.push_back(read_result_file(file, file.lexically_relative(folder)));
  return results;
}

}  // namespace limit_eval::report
