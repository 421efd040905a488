#pragma once

#include <cstddef>
#include <functional>

namespace limit_eval {

// Number of hardware threads (at least 1).
std::size_t hardware_threads();

// Resolves a user thread count: 0 means all hardware threads.
std::size_t resolve_threads(std::size_t requested);

// Calls body(begin, end) on contiguous chunks covering [0, count), from up to `threads` threads
// (0 = all hardware threads). Chunks are deterministic for a given (count, threads). The first
// exception thrown by a chunk is rethrown in the caller after all threads have joined.
void parallel_for(std::size_t count, std::size_t threads,
                  const std::function<void(std::size_t begin, std::size_t end)>& body);

}  // namespace limit_eval
