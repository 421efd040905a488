#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace limit_eval::encode {

// The exported model folder of docs/model-format.md: versions 1 (logits only) and 2 are read.
inline constexpr int kModelFormatVersion = 2;
inline constexpr int kOldestModelFormatVersion = 1;

struct TokenizerSpec {
  std::string kind;                 // "wordpiece" or "sentencepiece"
  std::filesystem::path vocab_file;  // wordpiece
  std::filesystem::path model_file;  // sentencepiece
  bool lowercase = true;
  std::optional<bool> strip_accents;
  bool tokenize_chinese_chars = true;
  bool clean_text = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";  // "" when the tokenizer has none
  std::string continuing_subword_prefix = "##";
  std::size_t max_input_chars_per_word = 100;
};

// One side's MLM + SPLADE pooling: the documents' always, the queries' when query_encoder.kind is "mlm".
struct MlmEncoderSpec {
  std::filesystem::path file;
  std::string architecture;
  std::size_t max_seq_length = 512;
  bool add_special_tokens = true;
  std::string pooling = "max";
  std::string activation = "relu";  // "relu": log1p(relu(x)); "log1p_relu": log1p(log1p(relu(x)))
  // "logits": the module returns MLM logits [B, L, V]; "hidden_states": it returns the decoder's
  // input [B, L, H] and carries the decoder as buffers decoder_weight [V, H] and decoder_bias [V].
  std::string output = "logits";

  bool operator==(const MlmEncoderSpec&) const = default;
};
using DocumentEncoderSpec = MlmEncoderSpec;

struct QueryEncoderSpec {
  // "static_weights": inference-free, each distinct token weighs its static weight (file: the
  // weights); "mlm": the query goes through an MLM + SPLADE pooling like a document (mlm.file: the
  // TorchScript module, the document encoder's own file in a siamese model).
  std::string kind = "static_weights";
  std::filesystem::path file;
  std::size_t max_seq_length = 512;  // 0: no truncation (the manifest's null)
  bool add_special_tokens = false;
  bool strip = false;  // Python str.strip() of the query text first (MLMTransformer.tokenize does)
  MlmEncoderSpec mlm;  // kind "mlm" only
};

struct ModelManifest {
  std::filesystem::path folder;
  std::string name;
  nlohmann::json source;
  std::uint32_t vocab_size = 0;
  DocumentEncoderSpec document;
  QueryEncoderSpec query;
  TokenizerSpec tokenizer;
  nlohmann::json raw;  // the whole manifest, for the results JSON
};

// Reads and validates <folder>/manifest.json: format and version, required fields, supported
// pooling/activation/tokenizer kinds, every listed file present with its size and (when
// verify_checksums) its sha256. Throws ModelError naming the folder and the problem.
ModelManifest load_model_manifest(const std::filesystem::path& folder, bool verify_checksums = true);

// The static query weight vector; ModelError unless it holds exactly vocab_size float32 values.
std::vector<float> load_query_weights(const ModelManifest& manifest);

}  // namespace limit_eval::encode
