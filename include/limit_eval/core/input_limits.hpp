#pragma once

#include <cstddef>
#include <string_view>

namespace limit_eval {

// Limits on what the readers of outside input accept, so that a malformed or hostile file stops
// with a message naming it instead of exhausting the stack or the memory.

// The longest line of a line-based data file (corpus, queries, qrels, TREC runs): 64 MiB. A
// document of 10 million characters (up to 40 MB of UTF-8) fits; a longer line is almost surely
// not a record (a file without newlines, a binary file).
inline constexpr std::size_t kMaxLineBytes = std::size_t{64} << 20;

// How deep the JSON files limit-eval reads may nest arrays and objects. nlohmann::json parses
// any depth, but copies, compares and prints values recursively: a file nested a million levels
// deep would overflow the stack there. Our files nest a handful of levels.
inline constexpr std::size_t kMaxJsonDepth = 128;

// The byte offset of the bracket that opens an array or object nested deeper than max_depth in
// `json` (text inside strings is skipped), or std::string_view::npos. Checks nesting only: the
// parser reports every other error.
std::size_t find_json_too_deep(std::string_view json, std::size_t max_depth = kMaxJsonDepth);

}  // namespace limit_eval
