#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "limit_eval/core/progress.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::encode {

// A sparse retrieval model: documents and queries become rows of a CsrMatrix over one term space,
// and relevance is their dot product.
class SparseEncoder {
 public:
  virtual ~SparseEncoder() = default;

  [[nodiscard]] virtual std::string name() const = 0;
  // Description written to the results JSON (kind, source, settings).
  [[nodiscard]] virtual nlohmann::json describe() const = 0;

  // Encodes the corpus. Corpus-statistics models (BM25) fit themselves here, so this is called
  // once, before encode_queries.
  virtual sparse::CsrMatrix encode_documents(std::span<const data::Document> corpus) = 0;
  virtual sparse::CsrMatrix encode_queries(std::span<const data::Query> queries) = 0;

  // Size of the term space (number of columns of the matrices).
  [[nodiscard]] virtual std::uint32_t dimensions() const = 0;
  // Human-readable name of a term (column).
  [[nodiscard]] virtual std::string term(std::uint32_t column) const = 0;

  // Where the encoding runs, for the results' environment record.
  [[nodiscard]] virtual std::string device() const { return "cpu"; }
  [[nodiscard]] virtual std::string device_name() const { return {}; }  // empty: the CPU's name
  [[nodiscard]] virtual std::string dtype() const { return "fp32"; }
  [[nodiscard]] virtual std::size_t batch_size() const { return 0; }  // 0: not batched
  // Largest padded batch in tokens (documents x longest length); 0: batches are bounded by count only.
  [[nodiscard]] virtual std::size_t max_batch_tokens() const { return 0; }

  // True when a document's vector depends on that document alone (not on corpus statistics), so
  // the corpus may be encoded in chunks, cached and resumed (see encode/vector_cache.hpp).
  [[nodiscard]] virtual bool documents_are_independent() const { return false; }

  // The documents of the encode_documents call after the next one (the next chunk of a corpus), so
  // that the encoder may prepare them (tokenize) on other threads while the next call encodes;
  // results never depend on it. They must stay alive until the call that takes them, or until an
  // empty span cancels the preparation (which waits for it to stop).
  virtual void prepare_next_documents(std::span<const data::Document> next) { (void)next; }

  // The bar of the stage that calls encode_documents (nullptr: none). An encoder built into
  // limit-eval needs nothing of it: its bars nest in the stage's by themselves (ProgressBar). One
  // in the neural plugin, which carries its own copy of the core module, is handed it here and
  // nests its bars in it with a ProgressScope, so that the stage keeps one bar.
  virtual void set_stage_progress(ProgressBar* stage) { (void)stage; }
};

}  // namespace limit_eval::encode
