#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace limit_eval {

// A progress bar on stderr, drawn only when stderr is a terminal and the task runs for more than
// a second; otherwise silent. It shows the count, the rate and the time left:
//
//   encoding documents [#########.....................] 16384/50000  5123/s  3.2 s, 6.6 s left
//
// One bar per stage: a bar created on a thread where another bar is active (created, not yet
// finished) is nested in it. A nested bar draws nothing and adds its advances to the outer bar,
// so a stage that calls code with bars of its own (the encoder of each cache chunk, each batch)
// still shows one bar over the whole stage that never restarts. advance() is thread-safe and may
// be called from worker threads.
class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar();

  void advance(std::size_t n = 1);
  void finish();
  // True while this (outer) bar is drawn on the terminal: log lines would break it.
  [[nodiscard]] bool drawing() const;

 private:
  void draw(std::size_t done, bool final);

  std::string label_;
  std::size_t total_;
  std::atomic<std::size_t> done_{0};
  ProgressBar* outer_ = nullptr;  // the stage's bar this one is nested in, if any
  bool enabled_;
  std::atomic<bool> drawn_{false};
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  mutable std::mutex mutex_;
};

// Makes `outer` the bar that bars created on this thread nest in, for the scope's lifetime (no
// effect when `outer` is null). For code in another binary (the neural plugin), which cannot see
// the bar that limit-eval's own code made active.
class ProgressScope {
 public:
  explicit ProgressScope(ProgressBar* outer);
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;
  ~ProgressScope();

 private:
  ProgressBar* previous_;
  bool installed_;
};

// Wall-clock stopwatch in seconds.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace limit_eval
