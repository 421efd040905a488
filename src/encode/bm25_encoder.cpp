#include "limit_eval/encode/bm25_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/text/bm25_analyzer.hpp"
#include "limit_eval/text/wordpiece.hpp"

// Reproduces bm25s 0.2.14 as MTEB's "bm25s" model runs it: bm25s.tokenize(texts, stopwords="en",
// stemmer=Stemmer.Stemmer("english")), then bm25s.BM25() (method "lucene", k1 1.5, b 0.75,
// dtype float32) and retrieve(). What bm25s does, and what is mirrored here:
// - |d| is the number of terms left after stopword removal (stems, repeats counted); avgdl is
//   numpy's float64 mean of these lengths over all documents, empty ones included.
// - idf = math.log(1 + (N - df + 0.5) / (df + 0.5)) in float64, stored as float32.
// - with numpy 2 the float64 avgdl makes the tf component float64:
//   tf / (k1 * ((1 - b) + b * |d| / avgdl) + tf); it multiplies the float32 idf (widened) and the
//   product is rounded once to float32. With numpy 1's value-based casting that component was
//   float32 instead; the two differ by a few ulp.
// - a query's score is the float32 sum of the weights of its terms, a repeated query term being
//   added once per occurrence; query terms unknown to the corpus are dropped. Here the query
//   vector holds each term's occurrence count, so the dot product is that same sum (summation
//   order aside).
namespace limit_eval::encode {
namespace {

// MTEB joins "title" and "text" with "\n" and does not strip; stripping would change nothing
// anyway, since whitespace never belongs to a term.
std::string document_text(const data::Document& document) {
  std::string text;
  text.reserve(document.title.size() + 1 + document.text.size());
  text.append(document.title).append("\n").append(document.text);
  return text;
}

template <typename Item, typename TextOf>
std::vector<std::vector<std::string>> analyze_all(std::span<const Item> items, std::size_t threads,
                                                  const TextOf& text_of, ProgressBar* progress = nullptr) {
  std::vector<std::vector<std::string>> terms(items.size());
  parallel_for(items.size(), threads, [&](std::size_t begin, std::size_t end) {
    text::Bm25Analyzer analyzer;  // libstemmer state is per thread
    constexpr std::size_t kReportEvery = 256;
    for (std::size_t i = begin; i < end; ++i) {
      try {
        terms[i] = analyzer.analyze(text_of(items[i]));
      } catch (const text::InvalidUtf8Error& e) {
        throw DataError(fmt::format("'{}': invalid UTF-8 at byte {}", items[i].id, e.byte_offset()));
      }
      if (progress != nullptr && (i - begin + 1) % kReportEvery == 0) progress->advance(kReportEvery);
    }
    if (progress != nullptr) progress->advance((end - begin) % kReportEvery);
  });
  return terms;
}

}  // namespace

Bm25Encoder::Bm25Encoder(Bm25Parameters parameters, std::size_t threads)
    : parameters_(parameters), threads_(threads) {
  if (!(parameters_.k1 >= 0.0) || !(parameters_.b >= 0.0 && parameters_.b <= 1.0)) {
    throw UsageError(fmt::format("BM25 parameters out of range: k1 = {} (needs >= 0), b = {} (needs 0..1)",
                                 parameters_.k1, parameters_.b));
  }
}

nlohmann::json Bm25Encoder::describe() const {
  return {
      {"kind", "bm25"},
      {"reference", "bm25s 0.2.14 (method \"lucene\", float32) as run by MTEB's bm25s model"},
      {"k1", parameters_.k1},
      {"b", parameters_.b},
      {"idf", "lucene: ln(1 + (N - df + 0.5) / (df + 0.5))"},
      {"document_text", "title + \"\\n\" + text"},
      {"lowercase", "Python str.lower()"},
      {"tokenizer", "Python re (?u)\\b\\w\\w+\\b"},
      {"stopwords", "bm25s English"},
      {"stopwords_count", text::Bm25Analyzer::stopwords().size()},
      {"stemmer", "Snowball English (libstemmer)"},
      {"snowball_version", text::Bm25Analyzer::snowball_version()},
      {"query_term_weight", "occurrence count"},
      {"documents", documents_},
      {"average_document_length", average_document_length_},
      {"vocabulary_size", vocabulary_.size()},
  };
}

sparse::CsrMatrix Bm25Encoder::encode_documents(std::span<const data::Document> corpus) {
  if (corpus.empty()) throw DataError("BM25: the corpus is empty, there is nothing to index");
  if (corpus.size() > UINT32_MAX) throw DataError("BM25: the corpus has more than 2^32 - 1 documents");

  // Analysis is most of the time: the bar counts analysed documents (nested in the stage's bar).
  ProgressBar progress("BM25: analysing documents", corpus.size());
  std::vector<std::vector<std::string>> document_terms = analyze_all(corpus, threads_, document_text, &progress);

  // Columns in order of first appearance in the corpus, so the term space is deterministic.
  vocabulary_.clear();
  columns_.clear();
  std::vector<std::vector<std::uint32_t>> document_columns(corpus.size());
  std::uint64_t total_length = 0;
  for (std::size_t d = 0; d < corpus.size(); ++d) {
    auto& columns = document_columns[d];
    columns.reserve(document_terms[d].size());
    for (std::string& term : document_terms[d]) {
      auto [position, inserted] = columns_.try_emplace(term, static_cast<std::uint32_t>(vocabulary_.size()));
      if (inserted) vocabulary_.push_back(std::move(term));
      columns.push_back(position->second);
    }
    total_length += columns.size();
    std::vector<std::string>().swap(document_terms[d]);
  }

  const auto documents = static_cast<double>(corpus.size());
  const double average_length = static_cast<double>(total_length) / documents;
  const auto vocabulary_size = static_cast<std::uint32_t>(vocabulary_.size());

  // Term counts per document: (column, tf) with columns sorted, which also gives df.
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> term_counts(corpus.size());
  parallel_for(corpus.size(), threads_, [&](std::size_t begin, std::size_t end) {
    for (std::size_t d = begin; d < end; ++d) {
      std::vector<std::uint32_t> columns = document_columns[d];
      std::sort(columns.begin(), columns.end());
      auto& counts = term_counts[d];
      for (const std::uint32_t column : columns) {
        if (!counts.empty() && counts.back().first == column) {
          ++counts.back().second;
        } else {
          counts.emplace_back(column, 1U);
        }
      }
    }
  });
  std::vector<std::uint64_t> document_frequency(vocabulary_size, 0);
  for (const auto& counts : term_counts) {
    for (const auto& [column, count] : counts) ++document_frequency[column];
  }
  std::vector<float> idf(vocabulary_size);
  for (std::uint32_t column = 0; column < vocabulary_size; ++column) {
    const auto df = static_cast<double>(document_frequency[column]);
    idf[column] = static_cast<float>(std::log(1.0 + (documents - df + 0.5) / (df + 0.5)));
  }

  const double k1 = parameters_.k1;
  const double b = parameters_.b;
  sparse::CsrBuilder builder(vocabulary_size);
  std::size_t nonzeros = 0;
  for (const auto& counts : term_counts) nonzeros += counts.size();
  builder.reserve(corpus.size(), nonzeros);
  std::vector<std::uint32_t> row_columns;
  std::vector<float> row_weights;
  for (std::size_t d = 0; d < corpus.size(); ++d) {
    const auto length = static_cast<double>(document_columns[d].size());
    // Same operation order as bm25s' _score_tfc_robertson, in float64.
    const double length_norm = k1 * ((1.0 - b) + b * length / average_length);
    row_columns.clear();
    row_weights.clear();
    for (const auto& [column, count] : term_counts[d]) {
      const auto tf = static_cast<double>(count);
      const auto weight = static_cast<float>(static_cast<double>(idf[column]) * (tf / (length_norm + tf)));
      if (weight == 0.0F) continue;  // CSR rows store no zeros (lucene idf and tf >= 1 never give one)
      row_columns.push_back(column);
      row_weights.push_back(weight);
    }
    builder.add_sorted_row(row_columns, row_weights);
  }

  documents_ = corpus.size();
  average_document_length_ = average_length;
  fitted_ = true;
  return std::move(builder).finish();
}

sparse::CsrMatrix Bm25Encoder::encode_queries(std::span<const data::Query> queries) {
  if (!fitted_) throw ContractError("BM25: encode_documents must index a corpus before queries are encoded");
  std::vector<std::vector<std::string>> query_terms =
      analyze_all(queries, threads_, [](const data::Query& query) -> const std::string& { return query.text; });

  sparse::CsrBuilder builder(static_cast<std::uint32_t>(vocabulary_.size()));
  std::vector<std::pair<std::uint32_t, float>> entries;
  for (const auto& terms : query_terms) {
    entries.clear();
    for (const std::string& term : terms) {
      const auto found = columns_.find(term);
      if (found != columns_.end()) entries.emplace_back(found->second, 1.0F);
    }
    builder.add_row(entries);  // sums the repeats of a term into its count
  }
  return std::move(builder).finish();
}

}  // namespace limit_eval::encode
