#include "limit_eval/core/id_lookup.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <unordered_set>
#include <vector>

namespace limit_eval {

namespace {

// Mixes the first and last (up to) 8 bytes and the length: enough to tell most ids apart, and a
// clash only costs a hash-map lookup.
std::uint64_t signature(std::string_view id) {
  const std::size_t n = std::min<std::size_t>(8, id.size());
  std::uint64_t head = 0;
  std::uint64_t tail = 0;
  if (n > 0) {  // an empty view may have no data() to copy from
    std::memcpy(&head, id.data(), n);
    std::memcpy(&tail, id.data() + id.size() - n, n);
  }
  return ((head * 0x9E3779B97F4A7C15ULL) ^ tail ^ id.size()) * 0xC2B2AE3D27D4EB4FULL;
}

}  // namespace

std::unordered_map<std::string_view, std::uint32_t> positions_of(std::span<const std::string_view> wanted,
                                                                 std::span<const std::string_view> ids) {
  std::unordered_map<std::string_view, std::uint32_t> found;
  if (wanted.empty()) return found;
  // A bitmap of about 16 bits per wanted id, indexed by the signature's top bits.
  const int bits = std::max(6, static_cast<int>(std::bit_width(wanted.size() * 16 - 1)));
  std::vector<std::uint64_t> may_be_wanted(std::size_t{1} << (bits - 6), 0);
  const auto bit_of = [bits](std::string_view id) { return signature(id) >> (64 - bits); };
  const std::unordered_set<std::string_view> is_wanted(wanted.begin(), wanted.end());
  for (const std::string_view id : wanted) {
    const std::uint64_t bit = bit_of(id);
    may_be_wanted[bit / 64] |= std::uint64_t{1} << (bit % 64);
  }
  for (std::uint32_t position = 0; position < ids.size(); ++position) {
    const std::uint64_t bit = bit_of(ids[position]);
    if ((may_be_wanted[bit / 64] >> (bit % 64) & 1U) == 0) continue;
    if (is_wanted.contains(ids[position])) found.emplace(ids[position], position);
  }
  return found;
}

}  // namespace limit_eval
