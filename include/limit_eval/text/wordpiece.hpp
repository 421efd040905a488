#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "limit_eval/core/error.hpp"
#include "limit_eval/text/tokenizer.hpp"

namespace limit_eval::text {

// The settings of Hugging Face's BertTokenizerFast (BertNormalizer + BertPreTokenizer + WordPiece +
// the "[CLS] $A [SEP]" template). Defaults are bert-base-uncased's; the exported model manifest's
// `tokenizer` block sets every field (docs/model-format.md).
struct WordPieceSettings {
  bool lowercase = true;
  // Unset follows `lowercase`, as in Hugging Face (strip_accents: null).
  std::optional<bool> strip_accents;
  bool tokenize_chinese_chars = true;
  bool clean_text = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  // Hugging Face registers [MASK] as a special token too, so "[MASK]" in the input text becomes id
  // 103. Empty means "no mask token".
  std::string mask_token = "[MASK]";
  std::string continuing_subword_prefix = "##";
  std::size_t max_input_chars_per_word = 100;

  [[nodiscard]] bool strips_accents() const noexcept { return strip_accents.value_or(lowercase); }
};

// The text handed to a tokenizer or analyzer is not valid UTF-8: invalid data (exit status 3). The
// tokenizer knows no file or record, so callers catch this and rethrow a DataError naming the file
// and line (or record id).
class InvalidUtf8Error : public DataError {
 public:
  // `byte_offset`: where the bad sequence starts; `text_index`: which text of a batch, if any.
  explicit InvalidUtf8Error(std::size_t byte_offset, std::optional<std::size_t> text_index = std::nullopt);
  [[nodiscard]] std::size_t byte_offset() const noexcept { return byte_offset_; }
  [[nodiscard]] std::optional<std::size_t> text_index() const noexcept { return text_index_; }

 private:
  std::size_t byte_offset_;
  std::optional<std::size_t> text_index_;
};

// BERT WordPiece tokenization, id for id what Hugging Face tokenizers 0.22 (BertTokenizerFast of
// transformers 4.56) produces:
//   1. the special tokens (unk, cls, sep, pad, mask) are cut out of the raw text and map to their
//      ids directly; the text between them goes through steps 2-4;
//   2. BertNormalizer: clean text (drop NUL, U+FFFD and Cc/Cf/Co/Cs except \t \n \r; White_Space
//      becomes ' '), spaces around CJK ideographs, strip accents (NFD, drop Mn), lowercase (full
//      mapping: 'İ' -> "i̇");
//   3. BertPreTokenizer: split on White_Space, isolate every punctuation char (ASCII !-/ :-@ [-` {-~
//      and the P* categories);
//   4. WordPiece: greedy longest match first, continuation pieces carry "##"; a word longer than
//      max_input_chars_per_word code points, or one with an unmatchable rest, is a single [UNK].
// Hugging Face takes its Unicode data from several Rust crates of different ages; the
// implementation uses utf8proc plus the measured differences (see wordpiece.cpp).
//
// Thread safety: all const member functions may be called concurrently.
class WordPieceTokenizer final : public Tokenizer {
 public:
  // Reads vocab.txt the way transformers' BertTokenizer does: one token per line, id = 0-based line
  // number; lines end at "\n", "\r\n" or "\r"; nothing else is trimmed; an empty line is the empty
  // token; a repeated token keeps the id of its last line (the earlier id then has no token).
  // Throws ModelError (naming the file) when the file cannot be read, is empty, is not UTF-8, or
  // lacks one of the special tokens.
  explicit WordPieceTokenizer(const std::filesystem::path& vocab_file, WordPieceSettings settings = {});
  // The same from the lines of a vocabulary, for tests and in-memory vocabularies.
  static WordPieceTokenizer from_tokens(const std::vector<std::string>& tokens, WordPieceSettings settings = {});

  // Token ids of `text`. With special tokens: [CLS] pieces [SEP], keeping the first max_length - 2
  // pieces; without: the first max_length pieces. max_length 0: no truncation. As in Hugging Face, a
  // max_length of 1 with special tokens does not truncate at all. Throws InvalidUtf8Error.
  [[nodiscard]] std::vector<std::uint32_t> encode(std::string_view text, bool add_special_tokens,
                                                  std::size_t max_length) const;
  // Same, appending to `ids` (which is not cleared): avoids an allocation per text.
  void encode_append(std::string_view text, bool add_special_tokens, std::size_t max_length,
                     std::vector<std::uint32_t>& ids) const;
  // encode() of every text, in parallel on `threads` threads (0 = all cores). An InvalidUtf8Error
  // carries the index of the offending text.
  [[nodiscard]] std::vector<std::vector<std::uint32_t>> encode_batch(std::span<const std::string> texts,
                                                                     bool add_special_tokens,
                                                                     std::size_t max_length,
                                                                     std::size_t threads) const override;

  // The pieces of `text` as strings, no [CLS]/[SEP] added, no truncation (HF `tokenize`).
  [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const;
  // Diagnostics, mirroring HF's `normalizer.normalize_str(text)` and
  // `pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))`: the whole text, special tokens
  // are not cut out.
  [[nodiscard]] std::string normalize(std::string_view text) const;
  [[nodiscard]] std::vector<std::string> pre_tokenize(std::string_view text) const;

  [[nodiscard]] std::optional<std::uint32_t> token_to_id(std::string_view token) const;
  // nullopt when `id` is out of range or its vocabulary line was overridden by a later duplicate.
  [[nodiscard]] std::optional<std::string_view> id_to_token(std::uint32_t id) const;
  // id_to_token() or "" (Tokenizer interface).
  [[nodiscard]] std::string token(std::uint32_t id) const override;
  // Number of distinct tokens (HF's vocab_size). Equals id_limit() unless vocab.txt repeats tokens.
  [[nodiscard]] std::size_t vocab_size() const noexcept { return vocab_.size(); }
  // One past the largest id (the number of lines of vocab.txt): the dimension of vocabulary vectors.
  [[nodiscard]] std::size_t id_limit() const override { return id_to_token_.size(); }
  [[nodiscard]] std::string kind() const override { return "wordpiece"; }

  [[nodiscard]] std::uint32_t unk_id() const noexcept { return unk_id_; }
  [[nodiscard]] std::uint32_t cls_id() const noexcept { return cls_id_; }
  [[nodiscard]] std::uint32_t sep_id() const noexcept { return sep_id_; }
  [[nodiscard]] std::uint32_t pad_id() const noexcept { return pad_id_; }
  [[nodiscard]] std::optional<std::uint32_t> mask_id() const noexcept { return mask_id_; }
  [[nodiscard]] const WordPieceSettings& settings() const noexcept { return settings_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept;
  };
  using Vocabulary = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;
  struct SpecialToken {
    std::string text;
    std::uint32_t id;
  };
  // Byte trie of vocabulary pieces: the longest piece starting a string in one walk, instead of
  // one hash lookup per candidate length.
  class PieceTrie {
   public:
    static constexpr std::uint32_t kNoPiece = 0xFFFFFFFF;
    void build(const std::vector<std::pair<std::string_view, std::uint32_t>>& pieces);
    // Byte length and id of the longest piece that `text` starts with; length 0 when none does.
    [[nodiscard]] std::pair<std::size_t, std::uint32_t> longest_prefix(std::string_view text) const;

   private:
    // Double-array layout: the child of slot s by byte b is slot base(s) + b if that slot's parent
    // is s, so every step is one array access.
    struct Slot {
      std::int32_t base = 0;
      std::int32_t parent = -1;  // -1: free
      std::uint32_t piece_id = kNoPiece;
    };
    std::vector<Slot> slots_;
  };
  struct Scratch;

  WordPieceTokenizer(const std::vector<std::string>& lines, WordPieceSettings settings, const std::string& origin);

  // Normalizes `text` into scratch.normalized (code points).
  void normalize_into(std::string_view text, Scratch& scratch) const;
  // Steps 2-4 on a stretch of text without special tokens; stops once `ids` holds `id_limit` ids.
  void encode_plain(std::string_view text, Scratch& scratch, std::vector<std::uint32_t>& ids,
                    std::size_t id_limit) const;
  // Steps 1-4 on the whole text; stops once `ids` holds `id_limit` ids.
  void encode_pieces(std::string_view text, std::vector<std::uint32_t>& ids, std::size_t id_limit) const;
  // WordPiece on one pre-token (UTF-8, `char_count` code points); appends ids.
  void encode_word(std::string_view word, std::size_t char_count, std::vector<std::uint32_t>& ids) const;

  WordPieceSettings settings_;
  Vocabulary vocab_;
  PieceTrie word_start_pieces_;  // every token
  // Continuation pieces without their prefix ("##able" as "able"), so a word's tail is matched as is.
  PieceTrie continuation_pieces_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> id_has_token_;
  std::vector<SpecialToken> special_tokens_;  // longest first
  std::uint32_t unk_id_ = 0;
  std::uint32_t cls_id_ = 0;
  std::uint32_t sep_id_ = 0;
  std::uint32_t pad_id_ = 0;
  std::optional<std::uint32_t> mask_id_;
};

}  // namespace limit_eval::text
