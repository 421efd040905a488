#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace limit_eval::text {

// What the neural encoders need of a subword tokenizer, whichever kind the model ships.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of each text: with special tokens ([CLS] ... [SEP] or the model's equivalent) the
  // pieces are cut so the whole fits max_length; without, the first max_length pieces are kept.
  // Throws InvalidUtf8Error (text index set) for invalid input.
  [[nodiscard]] virtual std::vector<std::vector<std::uint32_t>> encode_batch(std::span<const std::string> texts,
                                                                             bool add_special_tokens,
                                                                             std::size_t max_length,
                                                                             std::size_t threads) const = 0;
  // The token string of an id ("" for an id without a token).
  [[nodiscard]] virtual std::string token(std::uint32_t id) const = 0;
  // One past the largest id.
  [[nodiscard]] virtual std::size_t id_limit() const = 0;
  [[nodiscard]] virtual std::string kind() const = 0;
};

// Python's str.strip(): removes leading and trailing Unicode whitespace (str.isspace()).
std::string python_strip(std::string_view text);

}  // namespace limit_eval::text
