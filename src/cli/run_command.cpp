#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/model_factory.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/file_name.hpp"
#include "limit_eval/core/id_lookup.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/vector_cache.hpp"
#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/eval/trec_run.hpp"
#include "limit_eval/report/environment.hpp"
#include "limit_eval/report/result_file.hpp"
#include "limit_eval/report/table.hpp"
#include "limit_eval/sparse/efficiency.hpp"
#include "limit_eval/sparse/retrieval.hpp"

namespace limit_eval::cli {

namespace {

struct RunOptions {
  ModelOptions model;
  DataOptions data;
  RetrievalOptions retrieval;
  MetricOptions metrics;
  std::size_t threads = 0;  // the global --threads
  CacheOptions cache;
  std::filesystem::path output;    // empty: results/<dataset>/<model>.json
  std::filesystem::path run_file;  // empty: none
  std::filesystem::path save_vectors;  // empty: none
  bool keep_identical_ids = false;
};

nlohmann::json qrels_report_json(const data::QrelsReport& r) {
  return {{"path", r.path.string()},
          {"lines", r.lines},
          {"judgements", r.judgements},
          {"unknown_query_judgements", r.unknown_query_judgements},
          {"unknown_doc_judgements", r.unknown_doc_judgements},
          {"unknown_queries", r.unknown_queries},
          {"unknown_docs", r.unknown_docs},
          {"queries_without_judgements", r.queries_without_judgements}};
}

void log_qrels_report(const data::QrelsReport& r) {
  if (r.unknown_query_judgements > 0) {
    spdlog::warn("{}: {} judgements name {} queries that are not in the query set (not evaluated)", r.path.string(),
                 r.unknown_query_judgements, r.unknown_queries);
  }
  if (r.unknown_doc_judgements > 0) {
    spdlog::warn("{}: {} judgements name {} documents that are not in the corpus (they can never be retrieved)",
                 r.path.string(), r.unknown_doc_judgements, r.unknown_docs);
  }
  if (r.queries_without_judgements > 0) {
    spdlog::warn("{}: {} queries have no judgement (not evaluated)", r.path.string(), r.queries_without_judgements);
  }
}

// One JSON object per line: {"_id": id, "vector": {term: weight, ...}}, the form OpenSearch's
// rank_features / neural_sparse fields take. Returned uncommitted.
std::unique_ptr<AtomicFileWriter> write_vectors(const std::filesystem::path& path,
                                                std::span<const std::string_view> ids, const sparse::CsrMatrix& vectors,
                                                const encode::SparseEncoder& encoder) {
  auto file = std::make_unique<AtomicFileWriter>(path);
  for (std::uint32_t row = 0; row < vectors.rows; ++row) {
    nlohmann::json vector = nlohmann::json::object();
    const auto columns = vectors.row_indices(row);
    const auto weights = vectors.row_values(row);
    for (std::size_t i = 0; i < columns.size(); ++i) vector[encoder.term(columns[i])] = weights[i];
    file->stream() << nlohmann::json{{"_id", std::string(ids[row])}, {"vector", std::move(vector)}}.dump() << '\n';
  }
  return file;
}

// The ranking as the string-keyed run that write_trec_run takes.
eval::Run string_run(std::span<const std::string_view> query_ids, std::span<const std::string_view> doc_ids,
                     const std::vector<std::vector<sparse::Hit>>& hits) {
  eval::Run run;
  run.reserve(hits.size());
  for (std::size_t q = 0; q < hits.size(); ++q) {
    auto& ranked = run[std::string(query_ids[q])];
    ranked.reserve(hits[q].size());
    for (const auto& hit : hits[q]) ranked.push_back({std::string(doc_ids[hit.doc]), static_cast<double>(hit.score)});
  }
  return run;
}

// results/<dataset>/<model>.json. The model's name comes from its manifest, which others may
// have written: the names are made safe file names, so the file stays under results/.
std::filesystem::path default_output(const std::string& dataset, const std::string& model) {
  const std::string dataset_part = file_name_part(dataset);
  const std::string model_part = file_name_part(model);
  if (dataset_part != dataset || model_part != model) {
    spdlog::warn("dataset '{}' and model '{}' are written as '{}' and '{}' in the results file's name", dataset, model,
                 dataset_part, model_part);
  }
  return std::filesystem::path("results") / dataset_part / (model_part + ".json");
}

void run(const RunOptions& options) {
  Stopwatch total;
  const std::size_t threads = resolve_threads(options.threads);
  // The model reference is checked before a corpus is loaded: a mistyped name fails at once.
  const auto manifest = model_manifest(options.model);
  double data_loading_s = 0.0;
  const data::Dataset dataset = load_dataset(options.data, data_loading_s);
  log_qrels_report(dataset.qrels_report);
  std::vector<std::string_view> doc_ids;
  doc_ids.reserve(dataset.corpus.size());
  for (const auto& doc : dataset.corpus) doc_ids.emplace_back(doc.id);
  std::vector<std::string_view> query_ids;
  query_ids.reserve(dataset.queries.size());
  for (const auto& query : dataset.queries) query_ids.emplace_back(query.id);
  if (!options.run_file.empty()) {
    // Before any encoding: ids that the run file could not tell apart are invalid data here.
    eval::check_trec_ids(doc_ids, dataset.corpus_path, "document");
    eval::check_trec_ids(query_ids, dataset.queries_path, "query");
  }
  const auto& k_values = options.metrics.k_values;
  if (!k_values.empty() && static_cast<std::size_t>(k_values.back()) > options.retrieval.top_k) {
    std::vector<int> above;
    std::copy_if(k_values.begin(), k_values.end(), std::back_inserter(above),
                 [&](int k) { return static_cast<std::size_t>(k) > options.retrieval.top_k; });
    spdlog::warn("cut-off{} {} above --top-k {}: only {} documents are retrieved per query, so @{} counts those "
                 "(raise --top-k to {} for the full cut-off)",
                 above.size() == 1 ? "" : "s", fmt::join(above, ", "), options.retrieval.top_k,
                 options.retrieval.top_k, above.back(), above.back());
  }

  Stopwatch model_clock;
  auto encoder = make_encoder(options.model, threads);
  const double model_load_s = model_clock.seconds();
  spdlog::info("model {} ready ({:.3f} s)", encoder->name(), model_load_s);

  Stopwatch corpus_clock;
  const encode::VectorCacheOptions cache_options{.enabled = !options.cache.disabled,
                                                 .directory = resolve_cache_dir(options.cache),
                                                 .model_manifest = manifest};
  encode::CacheReport cache_report;
  const sparse::CsrMatrix doc_vectors =
      encode::encode_corpus_cached(*encoder, dataset.corpus, cache_options, cache_report);
  const double corpus_encoding_s = corpus_clock.seconds();
  spdlog::info("corpus vectors: {} documents, {} non-zeros over {} dimensions ({:.3f} s)", doc_vectors.rows,
               doc_vectors.nnz(), doc_vectors.cols, corpus_encoding_s);
  // What encoding this corpus cost when its chunks were encoded, some possibly in earlier runs.
  const bool corpus_from_cache = cache_report.chunks_loaded > 0;
  const double corpus_encoding_cached_s = cache_report.recorded_encode_seconds();

  Stopwatch query_clock;
  const sparse::CsrMatrix query_vectors = encoder->encode_queries(dataset.queries);
  const double query_encoding_s = query_clock.seconds();
  spdlog::info("encoded {} queries: {} non-zeros ({:.3f} s)", query_vectors.rows, query_vectors.nnz(),
               query_encoding_s);

  Stopwatch retrieval_clock;
  std::vector<std::optional<std::uint32_t>> identical(dataset.queries.size());
  std::size_t identical_ids = 0;
  if (!options.keep_identical_ids) {
    const auto doc_rows = positions_of(query_ids, doc_ids);
    for (std::size_t q = 0; q < query_ids.size(); ++q) {
      if (const auto found = doc_rows.find(query_ids[q]); found != doc_rows.end()) {
        identical[q] = found->second;
        ++identical_ids;
      }
    }
  }
  const sparse::InvertedIndex index(doc_vectors, doc_ids, query_vectors, threads);
  const auto hits = index.search(query_vectors, options.retrieval.top_k, threads, &identical);
  const double retrieval_s = retrieval_clock.seconds();
  spdlog::info("retrieved top {} for {} queries ({:.3f} s){}", options.retrieval.top_k, hits.size(), retrieval_s,
               identical_ids > 0 ? fmt::format("; {} queries share an id with a document, which is never retrieved "
                                               "for them (BEIR ignore_identical_ids)",
                                               identical_ids)
                                 : std::string{});

  Stopwatch evaluation_clock;
  eval::EvalOptions eval_options;
  eval_options.k_values = options.metrics.k_values;
  eval_options.relevance_level = options.metrics.relevance_level;
  eval_options.ignore_identical_ids = !options.keep_identical_ids;
  eval::EvalResult result =
      eval::evaluate_ranked(dataset.qrels, query_ids, doc_ids, hits, eval_options, threads);
  const double evaluation_s = evaluation_clock.seconds();
  spdlog::info("evaluated {} queries ({:.3f} s)", result.evaluated_queries, evaluation_s);
  if (result.evaluated_queries == 0) {
    throw DataError(dataset.qrels_report.path, 0, "no query of the query set has a judgement: nothing to evaluate");
  }

  const sparse::Efficiency efficiency = sparse::measure_efficiency(doc_vectors, query_vectors);
  spdlog::info("efficiency: {:.1f} active dimensions per document, {:.1f} per query, {:.4g} FLOPS per pair",
               efficiency.documents.mean, efficiency.queries.mean, efficiency.flops);

  const double total_s = total.seconds();
  report::RunSettings settings{.device = encoder->device(),
                               .device_name = encoder->device_name(),
                               .dtype = encoder->dtype(),
                               .threads = threads,
                               .batch_size = encoder->batch_size()};
  nlohmann::json timings = {{"data_loading", data_loading_s},
                             {"model_load", model_load_s},
                             {"corpus_encoding", corpus_encoding_s},
                             {"query_encoding", query_encoding_s},
                             {"retrieval", retrieval_s},
                             {"evaluation", evaluation_s},
                             {"total", total_s}};
  if (corpus_from_cache) timings["corpus_encoding_cached"] = corpus_encoding_cached_s;
  report::ResultRecord record;
  record.model = encoder->name();
  record.model_description = encoder->describe();
  record.dataset = {{"name", dataset.name},
                    {"path", std::filesystem::absolute(dataset.root).lexically_normal().string()},
                    {"documents", dataset.corpus.size()},
                    {"queries", dataset.queries.size()},
                    {"qrels_report", qrels_report_json(dataset.qrels_report)}};
  record.settings = {{"top_k", options.retrieval.top_k},
                     {"k_values", options.metrics.k_values},
                     {"relevance_level", options.metrics.relevance_level},
                     {"ignore_identical_ids", !options.keep_identical_ids}};
  record.evaluation = {{"evaluated_queries", result.evaluated_queries},
                       {"run_queries_without_qrels", result.run_queries_without_qrels},
                       {"qrels_queries_without_run", result.qrels_queries_without_run},
                       {"identical_ids_dropped", result.identical_ids_dropped}};
  record.metrics = result.mean;
  record.timings = std::move(timings);
  record.cache = cache_report.to_json();
  record.environment = report::environment_json(settings);
  record.efficiency = efficiency;
  record.per_query = std::move(result.per_query);

  // Every output is complete before any is moved into place.
  const auto output = options.output.empty() ? default_output(dataset.name, encoder->name()) : options.output;
  AtomicFileWriter results_file(output);
  report::write_result_file(results_file, record);
  std::vector<std::unique_ptr<AtomicFileWriter>> vector_files;
  const auto corpus_vectors_path = options.save_vectors / "corpus.jsonl";
  const auto query_vectors_path = options.save_vectors / "queries.jsonl";
  if (!options.save_vectors.empty()) {
    vector_files.push_back(write_vectors(corpus_vectors_path, doc_ids, doc_vectors, *encoder));
    vector_files.push_back(write_vectors(query_vectors_path, query_ids, query_vectors, *encoder));
  }
  std::optional<AtomicFileWriter> run_file;
  if (!options.run_file.empty()) {
    run_file.emplace(options.run_file);
    eval::write_trec_run(*run_file, string_run(query_ids, doc_ids, hits), "limit-eval-" + encoder->name());
  }
  if (!options.save_vectors.empty()) {
    for (const auto& path : {corpus_vectors_path, query_vectors_path}) {
      std::error_code ec;
      if (std::filesystem::exists(path, ec)) spdlog::warn("--save-vectors: replacing {}", path.string());
    }
  }
  for (auto& file : vector_files) file->commit();
  if (run_file) run_file->commit();
  results_file.commit();
  if (!options.save_vectors.empty()) {
    spdlog::info("vectors written to {} ({} documents) and {} ({} queries)", corpus_vectors_path.string(),
                 doc_vectors.rows, query_vectors_path.string(), query_vectors.rows);
  }
  spdlog::info("results written to {}{}", output.string(),
               options.run_file.empty() ? std::string{} : fmt::format(", run to {}", options.run_file.string()));

  // The table shows the encoding time, also when the vectors came from the cache.
  const report::TableRow row{encoder->name(), result.mean,
                             corpus_from_cache ? corpus_encoding_cached_s : corpus_encoding_s, query_encoding_s};
  fmt::print("{}", report::markdown_table({row}, options.metrics.k_values));
}

}  // namespace

void add_run_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<RunOptions>();
  add_model_options(app, options->model);
  add_data_options(app, options->data);
  add_retrieval_options(app, options->retrieval);
  add_metric_options(app, options->metrics);
  add_cache_options(app, options->cache);
  auto* output_group = app.add_option_group("Output");
  output_group->add_option("-o,--output", options->output,
                           "Results JSON (default: results/<dataset>/<model>.json under the current folder)");
  output_group->add_option("--run-file", options->run_file, "Also write the ranking as a TREC run file");
  output_group->add_option("--save-vectors", options->save_vectors,
                           "Also write corpus.jsonl and queries.jsonl of sparse vectors ({\"_id\", \"vector\": "
                           "{token: weight}}) into this folder");
  output_group->add_flag("--keep-identical-ids", options->keep_identical_ids,
                         "Do not drop documents whose id equals the query id (BEIR drops them)");
  app.callback([&app, &global, options] {
    options->threads = global.threads;
    if (app.get_subcommands().empty()) run(*options);
  });
}

}  // namespace limit_eval::cli
