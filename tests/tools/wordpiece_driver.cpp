// Test driver for the WordPiece tokenizer: reads one JSON value per line from stdin and writes one
// JSON value per line to stdout.
//
//   wordpiece_driver --vocab FILE [--mode ids|tokens|normalize|pretokenize] [--no-special]
//                    [--max-length N] [--no-lowercase] [--strip-accents true|false]
//                    [--no-chinese] [--no-clean]
//
// An input line is a JSON string (the text) or an object {"text", "add_special_tokens",
// "max_length"} overriding the command line for that line. Output per mode: ids -> [ids],
// tokens -> ["pieces"], normalize -> "normalized text", pretokenize -> ["pre-tokens"]; a text
// that cannot be tokenized gives {"error": message}.
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "limit_eval/text/wordpiece.hpp"

namespace {

[[noreturn]] void usage(const std::string& message) {
  std::cerr << "wordpiece_driver: " << message << '\n';
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string vocab;
  std::string mode = "ids";
  bool add_special_tokens = true;
  std::size_t max_length = 0;
  limit_eval::text::WordPieceSettings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--vocab") {
      vocab = value();
    } else if (arg == "--mode") {
      mode = value();
    } else if (arg == "--no-special") {
      add_special_tokens = false;
    } else if (arg == "--max-length") {
      max_length = std::stoul(value());
    } else if (arg == "--no-lowercase") {
      settings.lowercase = false;
    } else if (arg == "--strip-accents") {
      settings.strip_accents = value() == "true";
    } else if (arg == "--no-chinese") {
      settings.tokenize_chinese_chars = false;
    } else if (arg == "--no-clean") {
      settings.clean_text = false;
    } else {
      usage("unknown argument " + std::string(arg));
    }
  }
  if (vocab.empty()) usage("--vocab FILE is required");
  if (mode != "ids" && mode != "tokens" && mode != "normalize" && mode != "pretokenize") usage("bad --mode " + mode);

  try {
    const limit_eval::text::WordPieceTokenizer tokenizer(vocab, settings);
    std::ios::sync_with_stdio(false);
    std::string line;
    while (std::getline(std::cin, line)) {
      const nlohmann::json input = nlohmann::json::parse(line);
      std::string text;
      bool special = add_special_tokens;
      std::size_t length = max_length;
      if (input.is_string()) {
        text = input.get<std::string>();
      } else {
        text = input.at("text").get<std::string>();
        special = input.value("add_special_tokens", special);
        length = input.value("max_length", length);
      }
      nlohmann::json output;
      try {
        if (mode == "ids") {
          output = tokenizer.encode(text, special, length);
        } else if (mode == "tokens") {
          output = tokenizer.tokenize(text);
        } else if (mode == "normalize") {
          output = tokenizer.normalize(text);
        } else {
          output = tokenizer.pre_tokenize(text);
        }
      } catch (const limit_eval::text::InvalidUtf8Error& error) {
        output = {{"error", error.what()}};
      }
      std::cout << output.dump() << '\n';
    }
    std::cout.flush();
  } catch (const std::exception& error) {
    std::cerr << "wordpiece_driver: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
