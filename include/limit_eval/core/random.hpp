#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace limit_eval {

// SplitMix64's output function: spreads a seed (and a stream number) over all 64 bits.
[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

// Seeded random numbers that are the same on every machine and standard library: std::mt19937_64
// (whose output the standard fixes) through our own reductions, never through the
// implementation-defined std::uniform_int_distribution or std::shuffle. `stream` separates
// independent uses of one seed.
class SeededRandom {
 public:
  SeededRandom(std::uint64_t seed, std::uint64_t stream) : engine_(splitmix64(seed ^ splitmix64(stream))) {}

  // 64 uniform bits.
  std::uint64_t bits() { return engine_(); }

  // Uniform in [0, bound), bound > 0. Draws below 2^64 mod bound are rejected so that every
  // residue is equally likely.
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t rejected = (0 - bound) % bound;
    while (true) {
      const std::uint64_t draw = engine_();
      if (draw >= rejected) return draw % bound;
    }
  }

  // Fisher-Yates, from the back.
  template <typename T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace limit_eval
