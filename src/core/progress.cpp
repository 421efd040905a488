#include "limit_eval/core/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace limit_eval {

namespace {

// The outer bar active on this thread: the stage's bar, which nested bars report into.
thread_local ProgressBar* active_bar = nullptr;

std::string duration_text(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const auto whole = static_cast<long long>(seconds + 0.5);
  if (whole < 3600) return fmt::format("{}:{:02} min", whole / 60, whole % 60);
  return fmt::format("{}:{:02}:{:02} h", whole / 3600, whole / 60 % 60, whole % 60);
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::size_t total)
    : label_(std::move(label)),
      total_(total),
      outer_(active_bar),
      enabled_(outer_ == nullptr && ::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
  if (outer_ == nullptr) active_bar = this;
}

ProgressBar::~ProgressBar() { finish(); }

ProgressScope::ProgressScope(ProgressBar* outer) : previous_(active_bar), installed_(outer != nullptr) {
  if (installed_) active_bar = outer;
}

ProgressScope::~ProgressScope() {
  if (installed_) active_bar = previous_;
}

void ProgressBar::advance(std::size_t n) {
  if (outer_ != nullptr) {
    outer_->advance(n);
    return;
  }
  const std::size_t done = done_.fetch_add(n) + n;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - start_ < std::chrono::seconds(1)) return;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  draw(done, false);
}

void ProgressBar::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (active_bar == this) active_bar = nullptr;
  if (drawn_) draw(done_.load(), true);
}

bool ProgressBar::drawing() const {
  std::lock_guard lock(mutex_);
  return drawn_ && !finished_;
}

void ProgressBar::draw(std::size_t done, bool final) {
  constexpr int width = 30;
  const double fraction = total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const int filled = static_cast<int>(fraction * width);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
  std::string timing = duration_text(elapsed);
  if (!final && done < total_) {
    timing += rate > 0 ? fmt::format(", {} left", duration_text(static_cast<double>(total_ - done) / rate))
                       : std::string(", time left unknown");
  }
  // "\033[K" clears what a longer previous line left on the terminal.
  fmt::print(stderr, "\r{} [{}] {}/{}  {:.0f}/s  {}\033[K{}", label_, bar, done, total_, rate, timing,
             final ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace limit_eval
