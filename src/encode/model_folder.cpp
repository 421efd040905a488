#include "limit_eval/encode/model_folder.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "limit_eval/core/checksum.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/input_limits.hpp"
#include "limit_eval/core/shell.hpp"
#include "limit_eval/core/version.hpp"

namespace limit_eval::encode {

namespace {

using nlohmann::json;

class ManifestReader {
 public:
  ManifestReader(std::filesystem::path manifest_path) : path_(std::move(manifest_path)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError(fmt::format("{}: {}", path_.string(), what));
  }

  const json& object(const json& parent, const char* key, const std::string& where) const {
    const auto it = parent.find(key);
    if (it == parent.end() || !it->is_object()) fail(fmt::format("'{}{}' must be an object", where, key));
    return *it;
  }
  std::string string(const json& parent, const char* key, const std::string& where) const {
    const auto it = parent.find(key);
    if (it == parent.end() || !it->is_string()) fail(fmt::format("'{}{}' must be a string", where, key));
    return it->get<std::string>();
  }
  std::string string_or(const json& parent, const char* key, const std::string& fallback,
                        const std::string& where) const {
    return parent.contains(key) ? string(parent, key, where) : fallback;
  }
  bool boolean(const json& parent, const char* key, bool fallback, const std::string& where) const {
    const auto it = parent.find(key);
    if (it == parent.end()) return fallback;
    if (!it->is_boolean()) fail(fmt::format("'{}{}' must be true or false", where, key));
    return it->get<bool>();
  }
  // A file of the model folder, named relative to it; a name that would reach outside the folder
  // (absolute, or with a '..' component) is refused.
  std::filesystem::path file(const std::filesystem::path& folder, const std::string& relative,
                             const std::string& field) const {
    const std::filesystem::path name(relative);
    if (relative.empty() || name.is_absolute() || std::find(name.begin(), name.end(), "..") != name.end()) {
      fail(fmt::format("'{}' is '{}': it must name a file inside the model folder", field, relative));
    }
    return folder / name;
  }
  std::size_t positive(const json& parent, const char* key, const std::string& where) const {
    const auto it = parent.find(key);
    if (it == parent.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() == 0) {
      fail(fmt::format("'{}{}' must be a positive integer", where, key));
    }
    return it->get<std::size_t>();
  }
  // A positive integer, or null (returned as 0): "no limit", as sentence-transformers reads a
  // tokenizer without model_max_length.
  std::size_t positive_or_null(const json& parent, const char* key, const std::string& where) const {
    const auto it = parent.find(key);
    if (it != parent.end() && it->is_null()) return 0;
    if (it == parent.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() == 0) {
      fail(fmt::format("'{}{}' must be a positive integer or null", where, key));
    }
    return it->get<std::size_t>();
  }

 private:
  std::filesystem::path path_;
};

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(fmt::format("{}: missing or unreadable (not an exported model folder?)", path.string()));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (find_json_too_deep(text) != std::string::npos) {
    throw ModelError(fmt::format("{}: corrupt manifest: JSON nested more than {} levels deep", path.string(),
                                 kMaxJsonDepth));
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number overflow
    throw ModelError(fmt::format("{}: corrupt manifest: {}", path.string(), e.what()));
  }
}

// The command that exports the folder's model again, from the source its manifest records.
std::string reexport_command(const json& raw, const std::filesystem::path& folder) {
  // Only from what has the types an export writes: this runs on manifests that failed to load.
  const auto source_entry = raw.find("source");
  if (source_entry == raw.end() || !source_entry->is_object()) return {};
  const json& source = *source_entry;
  const auto id_entry = source.find("id");
  if (id_entry == source.end() || !id_entry->is_string()) return {};
  const std::string id = id_entry->get<std::string>();
  if (id.empty()) return {};
  std::vector<std::string> words{(std::filesystem::path(kSourceDir) / "scripts" / "export_model.sh").string(), id,
                                 "--output", std::filesystem::absolute(folder).lexically_normal().string()};
  if (raw.contains("name") && raw["name"].is_string()) words.insert(words.end(), {"--name", raw["name"].get<std::string>()});
  for (const auto& [key, option] : {std::pair{"revision", "--revision"}, std::pair{"code_revision", "--code-revision"}}) {
    if (source.contains(key) && source[key].is_string()) words.insert(words.end(), {option, source[key].get<std::string>()});
  }
  if (const auto trust = source.find("trust_remote_code");
      trust != source.end() && trust->is_boolean() && trust->get<bool>()) {
    words.emplace_back("--trust-remote-code");
  }
  for (const auto& [key, option] : {std::pair{"model_kwargs", "--model-kwargs"}, std::pair{"config_kwargs", "--config-kwargs"}}) {
    if (source.contains(key) && source[key].is_object() && !source[key].empty()) {
      words.insert(words.end(), {option, source[key].dump()});
    }
  }
  words.emplace_back("--force");
  std::string command;
  for (const auto& word : words) {
    if (!command.empty()) command += ' ';
    command += shell_word(word);
  }
  return command;
}

// The MLM + SPLADE pooling settings of one side (document_encoder, or a query_encoder of kind "mlm").
MlmEncoderSpec read_mlm_spec(const ManifestReader& read, const json& side, const std::string& where,
                             int format_version, const std::filesystem::path& folder) {
  MlmEncoderSpec spec;
  spec.file = read.file(folder, read.string(side, "file", where), where + "file");
  spec.architecture = read.string_or(side, "architecture", "", where);
  spec.max_seq_length = read.positive(side, "max_seq_length", where);
  // The exporter refuses a max_seq_length past the model's position embeddings (null: unknown).
  if (side.contains("max_position_embeddings")) {
    const std::size_t positions = read.positive_or_null(side, "max_position_embeddings", where);
    if (positions > 0 && spec.max_seq_length > positions) {
      read.fail(fmt::format("{}max_seq_length {} exceeds max_position_embeddings {}", where, spec.max_seq_length,
                            positions));
    }
  }
  spec.add_special_tokens = read.boolean(side, "add_special_tokens", true, where);
  spec.pooling = read.string(side, "pooling", where);
  spec.activation = read.string(side, "activation", where);
  if (spec.pooling != "max") {
    read.fail(fmt::format("{}pooling '{}' is not supported (only \"max\")", where, spec.pooling));
  }
  if (spec.activation != "relu" && spec.activation != "log1p_relu") {
    read.fail(fmt::format("{}activation '{}' is not supported (\"relu\" or \"log1p_relu\")", where,
                          spec.activation));
  }
  // Version 1 modules always returned logits.
  spec.output = format_version == 1 ? read.string_or(side, "output", "logits", where)
                                    : read.string(side, "output", where);
  if (spec.output != "logits" && spec.output != "hidden_states") {
    read.fail(fmt::format("{}output '{}' is not supported (\"logits\" or \"hidden_states\")", where, spec.output));
  }
  if (const auto truncation = read.string_or(side, "truncation", "longest_first", where);
      truncation != "longest_first") {
    read.fail(fmt::format("{}truncation '{}' is not supported (only \"longest_first\")", where, truncation));
  }
  return spec;
}

// query_encoder: "static_weights" (the default, for folders written before "kind" had another
// value) or "mlm".
QueryEncoderSpec read_query_spec(const ManifestReader& read, const json& query, int format_version,
                                 std::size_t vocab_size, const std::filesystem::path& folder) {
  const std::string where = "query_encoder.";
  QueryEncoderSpec spec;
  spec.kind = read.string_or(query, "kind", "static_weights", where);
  if (spec.kind == "mlm") {
    spec.mlm = read_mlm_spec(read, query, where, format_version, folder);
    spec.file = spec.mlm.file;
    spec.max_seq_length = spec.mlm.max_seq_length;
    spec.add_special_tokens = spec.mlm.add_special_tokens;
    spec.strip = read.boolean(query, "strip", true, where);
    return spec;
  }
  if (spec.kind != "static_weights") {
    read.fail(fmt::format("query_encoder.kind '{}' is not supported (\"static_weights\" or \"mlm\")", spec.kind));
  }
  spec.file = read.file(folder, read.string(query, "file", where), where + "file");
  if (read.string_or(query, "dtype", "float32", where) != "float32") {
    read.fail("query_encoder.dtype must be \"float32\"");
  }
  // null: queries are not truncated (sentence-transformers' SparseStaticEmbedding with a tokenizer that
  // has no model_max_length).
  spec.max_seq_length = read.positive_or_null(query, "max_seq_length", where);
  if (query.contains("static_weight_size")) {
    const std::size_t static_size = read.positive(query, "static_weight_size", where);
    if (static_size > vocab_size) {
      read.fail(fmt::format("query_encoder.static_weight_size {} exceeds vocab_size {}", static_size, vocab_size));
    }
  }
  spec.add_special_tokens = read.boolean(query, "add_special_tokens", false, where);
  if (const auto presence = read.string_or(query, "presence", "binary", where); presence != "binary") {
    read.fail(fmt::format("query_encoder.presence '{}' is not supported (only \"binary\")", presence));
  }
  return spec;
}

ModelManifest read_model_manifest(const std::filesystem::path& folder, bool verify_checksums) {
  const auto manifest_path = folder / "manifest.json";
  const json raw = read_json(manifest_path);
  const ManifestReader read(manifest_path);
  if (!raw.is_object()) read.fail("the manifest must be a JSON object");
  if (read.string(raw, "format", "") != "limit-eval-model") read.fail("'format' is not \"limit-eval-model\"");
  const auto version = raw.find("format_version");
  if (version == raw.end() || !version->is_number_integer()) read.fail("'format_version' must be an integer");
  const int format_version = version->get<int>();
  if (format_version < kOldestModelFormatVersion || format_version > kModelFormatVersion) {
    const std::string command = reexport_command(raw, folder);
    read.fail(fmt::format("format version {} is not supported (this limit-eval reads versions {} to {}); re-export "
                          "the model with this checkout's scripts/export_model.py{}",
                          format_version, kOldestModelFormatVersion, kModelFormatVersion,
                          command.empty() ? std::string{} : ", from the source its manifest records:\n  " + command));
  }

  ModelManifest m;
  m.folder = folder;
  m.raw = raw;
  m.name = read.string(raw, "name", "");
  m.source = raw.value("source", json::object());
  const std::size_t vocab_size = read.positive(raw, "vocab_size", "");
  if (vocab_size > UINT32_MAX) read.fail("'vocab_size' is too large");
  m.vocab_size = static_cast<std::uint32_t>(vocab_size);

  const json& doc = read.object(raw, "document_encoder", "");
  m.document = read_mlm_spec(read, doc, "document_encoder.", format_version, folder);
  if (const auto text = read.string_or(doc, "text", "title_space_text_stripped", "document_encoder.");
      text != "title_space_text_stripped") {
    read.fail(fmt::format("document_encoder.text '{}' is not supported (only \"title_space_text_stripped\")", text));
  }

  const json& query = read.object(raw, "query_encoder", "");
  m.query = read_query_spec(read, query, format_version, vocab_size, folder);

  const json& tok = read.object(raw, "tokenizer", "");
  m.tokenizer.kind = read.string(tok, "kind", "tokenizer.");
  if (m.tokenizer.kind == "wordpiece") {
    m.tokenizer.vocab_file = read.file(folder, read.string(tok, "vocab_file", "tokenizer."), "tokenizer.vocab_file");
  } else if (m.tokenizer.kind == "sentencepiece") {
    m.tokenizer.model_file = read.file(folder, read.string(tok, "model_file", "tokenizer."), "tokenizer.model_file");
  } else {
    read.fail(fmt::format("tokenizer.kind '{}' is not supported (\"wordpiece\" or \"sentencepiece\")",
                          m.tokenizer.kind));
  }
  m.tokenizer.lowercase = read.boolean(tok, "lowercase", true, "tokenizer.");
  // sentence-transformers lower-cases the text itself (str.lower()) when do_lower_case is set: literal
  // special tokens are then not matched, and Python's final sigma differs from the tokenizer's
  // lower-casing. limit-eval does not reproduce that; the exporter refuses such models.
  for (const auto& [side, where] : {std::pair{&doc, "document_encoder"}, std::pair{&query, "query_encoder"}}) {
    if (read.boolean(*side, "do_lower_case", false, std::string(where) + ".")) {
      read.fail(fmt::format("{}.do_lower_case true is not supported (sentence-transformers' own str.lower() before "
                            "tokenizing; re-export the model with do_lower_case false when its tokenizer lower-cases)",
                            where));
    }
  }
  if (const auto it = tok.find("strip_accents"); it != tok.end() && !it->is_null()) {
    if (!it->is_boolean()) read.fail("'tokenizer.strip_accents' must be true, false or null");
    m.tokenizer.strip_accents = it->get<bool>();
  }
  m.tokenizer.tokenize_chinese_chars = read.boolean(tok, "tokenize_chinese_chars", true, "tokenizer.");
  m.tokenizer.clean_text = read.boolean(tok, "clean_text", true, "tokenizer.");
  m.tokenizer.unk_token = read.string_or(tok, "unk_token", "[UNK]", "tokenizer.");
  m.tokenizer.cls_token = read.string_or(tok, "cls_token", "[CLS]", "tokenizer.");
  m.tokenizer.sep_token = read.string_or(tok, "sep_token", "[SEP]", "tokenizer.");
  m.tokenizer.pad_token = read.string_or(tok, "pad_token", "[PAD]", "tokenizer.");
  // null: the tokenizer has no mask token.
  m.tokenizer.mask_token = tok.contains("mask_token") && tok["mask_token"].is_null()
                               ? std::string{}
                               : read.string_or(tok, "mask_token", "[MASK]", "tokenizer.");
  m.tokenizer.continuing_subword_prefix = read.string_or(tok, "continuing_subword_prefix", "##", "tokenizer.");
  if (tok.contains("max_input_chars_per_word")) {
    m.tokenizer.max_input_chars_per_word = read.positive(tok, "max_input_chars_per_word", "tokenizer.");
  }

  // Every file the manifest lists must be there, whole.
  const json& files = read.object(raw, "files", "");
  for (const auto& required : {m.document.file, m.query.file,
                               m.tokenizer.kind == "wordpiece" ? m.tokenizer.vocab_file : m.tokenizer.model_file}) {
    const auto relative = std::filesystem::relative(required, folder).generic_string();
    if (!files.contains(relative)) read.fail(fmt::format("'files' does not list '{}'", relative));
  }
  for (const auto& [relative, entry] : files.items()) {
    const auto path = read.file(folder, relative, "files." + relative);
    if (!std::filesystem::is_regular_file(path)) {
      throw ModelError(fmt::format("{}: missing from the model folder (listed in manifest.json)", path.string()));
    }
    if (!entry.is_object()) read.fail(fmt::format("'files.{}' must be an object", relative));
    if (const auto bytes = entry.find("bytes"); bytes != entry.end()) {
      if (!bytes->is_number_unsigned() || bytes->get<std::uintmax_t>() != std::filesystem::file_size(path)) {
        throw ModelError(fmt::format("{}: size {} differs from the manifest's {} (truncated or replaced file)",
                                     path.string(), std::filesystem::file_size(path), bytes->dump()));
      }
    }
    if (verify_checksums) {
      const std::string expected = read.string(entry, "sha256", fmt::format("files.{}.", relative));
      const std::string actual = sha256_file(path);
      if (actual != expected) {
        throw ModelError(fmt::format("{}: sha256 {} differs from the manifest's {} (corrupt file)", path.string(),
                                     actual, expected));
      }
    }
  }
  return m;
}

}  // namespace

ModelManifest load_model_manifest(const std::filesystem::path& folder, bool verify_checksums) {
  try {
    return read_model_manifest(folder, verify_checksums);
  } catch (const std::filesystem::filesystem_error& error) {
    // A file name the manifest gives that the file system refuses to look up (longer than a name
    // may be, a loop of links, ...): the folder is broken, not limit-eval.
    throw ModelError(fmt::format("{}: names a file that cannot be looked up: {}", (folder / "manifest.json").string(),
                                 error.what()));
  }
}

std::vector<float> load_query_weights(const ModelManifest& manifest) {
  static_assert(std::endian::native == std::endian::little, "query_weights.f32 is little-endian float32");
  const auto& path = manifest.query.file;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw ModelError(fmt::format("{}: missing or unreadable", path.string()));
  const auto bytes = static_cast<std::size_t>(in.tellg());
  if (bytes != static_cast<std::size_t>(manifest.vocab_size) * sizeof(float)) {
    throw ModelError(fmt::format("{}: holds {} bytes ({} float32 weights) but the vocabulary has {} tokens",
                                 path.string(), bytes, bytes / sizeof(float), manifest.vocab_size));
  }
  std::vector<float> weights(manifest.vocab_size);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(weights.data()), static_cast<std::streamsize>(bytes));
  if (!in) throw ModelError(fmt::format("{}: read failed", path.string()));
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i])) {
      throw ModelError(fmt::format("{}: weight {} of token {} is not a finite number", path.string(),
                                   weights[i], i));
    }
  }
  return weights;
}

}  // namespace limit_eval::encode
