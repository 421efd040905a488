#pragma once

#include <optional>
#include <span>
#include <string>

namespace limit_eval {

// The candidate closest to `word` by edit distance (Levenshtein), when it is at most two edits
// away and closer than every other; for "did you mean" in messages.
std::optional<std::string> closest_match(const std::string& word, std::span<const std::string> candidates);

}  // namespace limit_eval
