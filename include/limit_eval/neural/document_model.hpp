#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "limit_eval/core/error.hpp"
#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::neural {

struct DeviceOptions {
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  std::string dtype = "fp32";   // auto | fp32 | bf16 | fp16 (fp16 on CUDA only); see encode::resolve_dtype
  std::size_t batch_size = 32;
  std::size_t threads = 0;      // intra-op threads on CPU; 0 = all cores
  std::size_t max_batch_tokens = 0;  // 0: batches bounded by batch_size only
};

// Consecutive [first, last) ranges of documents sorted longest first: each batch holds at most
// batch_size documents and, when max_batch_tokens > 0, at most that many padded tokens (documents
// times the first, longest, length); a document longer than the budget goes alone.
std::vector<std::pair<std::size_t, std::size_t>> plan_batches(const std::vector<std::size_t>& sorted_lengths,
                                                              std::size_t batch_size, std::size_t max_batch_tokens);

// An exported TorchScript MLM followed by SPLADE max pooling, as docs/model-format.md describes: the
// document side of every model folder, and the query side of a siamese one (query_encoder.kind "mlm",
// which reuses the document side's instance when both name the same module and pooling). libtorch
// stays behind this interface.
class DocumentModel {
 public:
  // Loads the TorchScript module of one side (spec) onto the device and checks its signature on a
  // probe batch. Throws ModelError (bad module) or UsageError (device/dtype not available).
  DocumentModel(const encode::MlmEncoderSpec& spec, std::uint32_t vocab_size, const DeviceOptions& options);
  ~DocumentModel();
  DocumentModel(const DocumentModel&) = delete;
  DocumentModel& operator=(const DocumentModel&) = delete;

  // Encodes token-id sequences (special tokens included, already truncated) into rows of a
  // vocab_size-column matrix, in input order; sequences are batched by length to avoid padding.
  // PooledVectorError names the first sequence whose vector is invalid. stage: the progress bar's label.
  [[nodiscard]] sparse::CsrMatrix encode(const std::vector<std::vector<std::uint32_t>>& sequences,
                                         const char* stage = "encoding documents") const;

  [[nodiscard]] std::string device() const;       // resolved, e.g. "cpu" or "cuda:0"
  [[nodiscard]] std::string device_name() const;  // CPU model or GPU name
  [[nodiscard]] std::string dtype() const;        // resolved: fp32, bf16 or fp16, never auto
  [[nodiscard]] std::size_t batch_size() const;
  [[nodiscard]] std::size_t max_batch_tokens() const;
  [[nodiscard]] nlohmann::json describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A sequence (document or query) whose pooled vector is invalid: a NaN or an infinity (the model
// overflowed, typically in fp16/bf16), or entries that are not a sparse vector over the vocabulary.
// Thrown while encoding, before anything is cached or scored.
class PooledVectorError : public ModelError {
 public:
  PooledVectorError(std::size_t document_index, const std::string& message)
      : ModelError(message), document_index_(document_index) {}
  [[nodiscard]] std::size_t document_index() const { return document_index_; }

 private:
  std::size_t document_index_;
};

// "auto" resolves to "cuda" when a CUDA device is usable, else "cpu".
std::string resolve_device(const std::string& requested);

}  // namespace limit_eval::neural
