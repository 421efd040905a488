#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/model_factory.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/encode/registry.hpp"
#include "limit_eval/encode/tokenizer_factory.hpp"
#include "limit_eval/text/wordpiece.hpp"

namespace limit_eval::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::filesystem::path models_root;
  std::string side = "document";
  std::size_t max_length = 0;  // 0: the model's
  bool tokens = false;
};

void tokenize(const TokenizeOptions& options) {
  const auto models_root = options.models_root.empty() ? encode::default_models_root() : options.models_root;
  const auto reference = encode::resolve_model(options.model, models_root);
  if (reference.kind != encode::ModelReference::Kind::exported) {
    throw UsageError(fmt::format("model '{}' has no subword tokenizer; give an exported model", options.model));
  }
  const auto manifest = encode::load_model_manifest(reference.folder, /*verify_checksums=*/false);
  const auto tokenizer = encode::make_tokenizer(manifest.tokenizer);
  const bool as_document = options.side == "document";
  const bool add_special_tokens = as_document ? manifest.document.add_special_tokens : manifest.query.add_special_tokens;
  const std::size_t max_length =
      options.max_length > 0 ? options.max_length
                             : (as_document ? manifest.document.max_seq_length : manifest.query.max_seq_length);
  if (add_special_tokens && options.max_length > 0) {
    // The special tokens are never cut: a length below their count cannot be honoured.
    const std::vector<std::string> empty{""};
    const std::size_t special_tokens = tokenizer->encode_batch(empty, true, 0, 0).front().size();
    if (options.max_length < special_tokens) {
      throw UsageError(fmt::format("--max-length {} is shorter than the {} special tokens that --as {} adds: give at "
                                   "least {}",
                                   options.max_length, special_tokens, options.side, special_tokens));
    }
  }

  std::vector<std::string> lines;
  for (std::string line; std::getline(std::cin, line);) lines.push_back(std::move(line));
  std::vector<std::vector<std::uint32_t>> ids;
  try {
    ids = tokenizer->encode_batch(lines, add_special_tokens, max_length, 0);
  } catch (const text::InvalidUtf8Error& e) {
    throw DataError("<stdin>", e.text_index().value_or(0) + 1,
                    fmt::format("invalid UTF-8 at byte {}", e.byte_offset()));
  }
  std::string out;
  for (const auto& row : ids) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out += ' ';
      out += options.tokens ? tokenizer->token(row[i]) : std::to_string(row[i]);
    }
    out += '\n';
  }
  std::cout << out << std::flush;
}

}  // namespace

void add_tokenize_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<TokenizeOptions>();
  auto* command = app.add_subcommand(
      "tokenize", "Tokenize lines of stdin with a model's tokenizer; prints each line's token ids, space-separated");
  command->add_option("-m,--model", options->model, "Exported model: registered short name or folder path")
      ->required();
  command->add_option("--models-root", options->models_root,
                      "Folder where exported models are looked for by short name (default: $LIMIT_EVAL_MODELS_ROOT, "
                      "else the repository's models/)")
      ->check(CLI::ExistingDirectory);
  command
      ->add_option("--as", options->side,
                   "document: with special tokens, truncated at the document encoder's max length; query: as the "
                   "query encoder tokenizes (inference-free: without special tokens; siamese: with), truncated at its "
                   "max length")
      ->check(CLI::IsMember({"document", "query"}))
      ->capture_default_str();
  command->add_option("--max-length", options->max_length, "Override the truncation length (0: the model's)")
      ->check(integer_in_range(0, 1 << 20))
      ->capture_default_str();
  command->add_flag("--tokens", options->tokens, "Print token strings instead of ids");
  add_global_options(*command, global);
  command->callback([options] { tokenize(*options); });
}

}  // namespace limit_eval::cli
