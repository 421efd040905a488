#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>

namespace limit_eval {

// The positions in `ids` (distinct ids, e.g. a corpus's) of those of the `wanted` ids that occur
// there: one pass over `ids`, most of which a cheap signature rejects before any hashing, so
// that finding a few ids among many costs about a read of the many.
std::unordered_map<std::string_view, std::uint32_t> positions_of(std::span<const std::string_view> wanted,
                                                                 std::span<const std::string_view> ids);

}  // namespace limit_eval
