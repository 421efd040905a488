// BERT WordPiece (BertTokenizerFast-exact) on LIMIT texts: the 46 LIMIT-small documents as the
// document encoder sees them ("[CLS] title text [SEP]", truncated at 512) and LIMIT's 1,000
// queries as the query encoder sees them (no special tokens). Vocabulary:
// tests/fixtures/bert-base-uncased-vocab.txt.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_data.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/static_query_encoder.hpp"
#include "limit_eval/encode/tokenizer_factory.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace {

using limit_eval::bench::source_dir;

const limit_eval::text::WordPieceTokenizer& tokenizer() {
  static const limit_eval::text::WordPieceTokenizer tok(source_dir() / "tests" / "fixtures" /
                                                        "bert-base-uncased-vocab.txt");
  return tok;
}

const std::vector<std::string>& documents() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (const auto& doc : limit_eval::data::load_corpus(source_dir() / "data" / "limit-small" / "corpus.jsonl")) {
      out.push_back(limit_eval::encode::document_text(doc));
    }
    return out;
  }();
  return texts;
}

const std::vector<limit_eval::data::Query>& query_records() {
  static const auto records = limit_eval::data::load_queries(source_dir() / "data" / "limit" / "queries.jsonl");
  return records;
}

const std::vector<std::string>& queries() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (const auto& q : query_records()) out.push_back(q.text);
    return out;
  }();
  return texts;
}

void set_counters(benchmark::State& state, const std::vector<std::string>& texts, std::size_t tokens) {
  std::size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * texts.size()));
  if (tokens > 0) {
    state.counters["tokens_per_s"] =
        benchmark::Counter(static_cast<double>(tokens) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate);
  }
}

// One thread, text after text (encode_append reuses the output buffer).
void BM_WordPieceDocuments(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& texts = documents();
  std::vector<std::uint32_t> ids;
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokens = 0;
    for (const auto& text : texts) {
      ids.clear();
      tok.encode_append(text, true, 512, ids);
      tokens += ids.size();
    }
    benchmark::DoNotOptimize(ids.data());
  }
  set_counters(state, texts, tokens);
}
BENCHMARK(BM_WordPieceDocuments)->Unit(benchmark::kMicrosecond)->UseRealTime();

// encode_batch as the document encoder calls it; Arg = threads.
void BM_WordPieceDocumentsBatch(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& texts = documents();
  std::size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tok.encode_batch(texts, true, 512, static_cast<std::size_t>(state.range(0)));
    tokens = 0;
    for (const auto& row : ids) tokens += row.size();
    benchmark::DoNotOptimize(ids.data());
  }
  set_counters(state, texts, tokens);
}
BENCHMARK(BM_WordPieceDocumentsBatch)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// LIMIT's 1,000 queries, no special tokens; Arg = threads.
void BM_WordPieceQueriesBatch(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& texts = queries();
  std::size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tok.encode_batch(texts, false, 512, static_cast<std::size_t>(state.range(0)));
    tokens = 0;
    for (const auto& row : ids) tokens += row.size();
    benchmark::DoNotOptimize(ids.data());
  }
  set_counters(state, texts, tokens);
}
BENCHMARK(BM_WordPieceQueriesBatch)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The whole inference-free query encoder (tokenize, distinct ids, static weights, CSR) on LIMIT's
// 1,000 queries: what `limit-eval` times as timings_s.query_encoding. Arg = threads.
void BM_StaticQueryEncoder(benchmark::State& state) {
  const auto& tok = tokenizer();
  std::vector<float> weights(tok.id_limit());
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 0.5F + static_cast<float>(i % 97) / 10.0F;
  const limit_eval::encode::StaticQueryEncoder encoder(tok, weights, 512, false,
                                                       static_cast<std::size_t>(state.range(0)));
  const auto& records = query_records();
  for (auto _ : state) {
    auto vectors = encoder.encode(records);
    benchmark::DoNotOptimize(vectors.values.data());
  }
  set_counters(state, queries(), 0);
}
BENCHMARK(BM_StaticQueryEncoder)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
