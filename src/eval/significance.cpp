#include "limit_eval/eval/significance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/random.hpp"

namespace limit_eval::eval {

namespace {

// Streams of the seed: the randomization test and the bootstrap draw independently.
constexpr std::uint64_t kRandomizationStream = 1;
constexpr std::uint64_t kBootstrapStream = 2;

// Relative tolerance under which a resampled statistic counts as equal to the observed one: the
// sums are formed in different orders, so an exact tie can differ in its last bits.
constexpr double kTieTolerance = 1e-12;

std::vector<double> differences(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size()) {
    throw UsageError(fmt::format("paired test of {} and {} scores: the two systems must score the same queries",
                                 a.size(), b.size()));
  }
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = b[i] - a[i];
  return d;
}

// Lentz's continued fraction of the incomplete beta function (Numerical Recipes' betacf).
double beta_continued_fraction(double x, double a, double b) {
  constexpr int kMaxIterations = 100000;
  constexpr double kEpsilon = 1e-16;
  constexpr double kTiny = 1e-300;
  const double qab = a + b;
  const double qap = a + 1.0;
  const double qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double step = d * c;
    h *= step;
    if (std::abs(step - 1.0) < kEpsilon) break;
  }
  return h;
}

// I_x(a, b) given both x and 1 - x (the caller may know 1 - x more precisely than 1.0 - x).
double incomplete_beta(double x, double one_minus_x, double a, double b) {
  if (x <= 0.0) return 0.0;
  if (one_minus_x <= 0.0) return 1.0;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log(one_minus_x);
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_continued_fraction(x, a, b) / a;
  return 1.0 - front * beta_continued_fraction(one_minus_x, b, a) / b;
}

double quantile_of_sorted(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

}  // namespace

std::string to_string(PairedTest test) {
  switch (test) {
    case PairedTest::t: return "t";
    case PairedTest::randomization: return "randomization";
    case PairedTest::bootstrap: return "bootstrap";
  }
  return "?";
}

std::string to_string(Correction correction) {
  switch (correction) {
    case Correction::none: return "none";
    case Correction::bonferroni: return "bonferroni";
    case Correction::holm: return "holm";
  }
  return "?";
}

double regularized_incomplete_beta(double x, double a, double b) {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0)) {
    throw UsageError(fmt::format("incomplete beta I_x(a, b) needs a, b > 0 and 0 <= x <= 1 (x={}, a={}, b={})", x, a,
                                 b));
  }
  return incomplete_beta(x, 1.0 - x, a, b);
}

double student_t_two_sided_p(double t, double df) {
  if (std::isnan(t)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(t)) return 0.0;
  // P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
  const double t2 = t * t;
  const double denominator = df + t2;
  return std::clamp(incomplete_beta(df / denominator, t2 / denominator, df / 2.0, 0.5), 0.0, 1.0);
}

TTest paired_t_test(std::span<const double> a, std::span<const double> b) {
  const std::vector<double> d = differences(a, b);
  const std::size_t n = d.size();
  if (n < 2) throw UsageError(fmt::format("a paired t-test needs at least 2 queries, found {}", n));
  const double mean = std::accumulate(d.begin(), d.end(), 0.0) / static_cast<double>(n);
  double squares = 0.0;
  for (const double value : d) squares += (value - mean) * (value - mean);
  const double variance = squares / static_cast<double>(n - 1);
  TTest result;
  result.df = static_cast<double>(n - 1);
  if (variance == 0.0) {
    if (mean == 0.0) return result;  // t = 0/0: no evidence of any difference
    result.t = mean > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    result.p = 0.0;
    return result;
  }
  result.t = mean / std::sqrt(variance / static_cast<double>(n));
  result.p = student_t_two_sided_p(result.t, result.df);
  return result;
}

double randomization_test(std::span<const double> a, std::span<const double> b, std::size_t permutations,
                          std::uint64_t seed) {
  const std::vector<double> d = differences(a, b);
  if (d.empty()) throw UsageError("a randomization test needs at least 1 query");
  if (permutations == 0) throw UsageError("a randomization test needs at least 1 permutation");
  double observed = 0.0;
  double magnitude = 0.0;
  for (const double value : d) {
    observed += value;
    magnitude += std::abs(value);
  }
  const double threshold = std::abs(observed) - kTieTolerance * magnitude;
  SeededRandom random(seed, kRandomizationStream);
  std::size_t extreme = 0;
  for (std::size_t trial = 0; trial < permutations; ++trial) {
    double sum = 0.0;
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (i % 64 == 0) bits = random.bits();
      // Swapping the two scores of query i flips the sign of its difference.
      sum += (bits & 1U) != 0 ? -d[i] : d[i];
      bits >>= 1U;
    }
    if (std::abs(sum) >= threshold) ++extreme;
  }
  return static_cast<double>(extreme) / static_cast<double>(permutations);
}

Bootstrap paired_bootstrap(std::span<const double> a, std::span<const double> b, std::size_t samples,
                           std::uint64_t seed, double confidence) {
  const std::vector<double> d = differences(a, b);
  if (d.empty()) throw UsageError("a bootstrap needs at least 1 query");
  if (samples == 0) throw UsageError("a bootstrap needs at least 1 sample");
  if (!(confidence > 0.0 && confidence < 1.0)) {
    throw UsageError(fmt::format("confidence level must be in (0, 1), found {}", confidence));
  }
  const std::size_t n = d.size();
  double magnitude = 0.0;
  for (const double value : d) magnitude += std::abs(value);
  const double mean = std::accumulate(d.begin(), d.end(), 0.0) / static_cast<double>(n);
  const double threshold = std::abs(mean) - kTieTolerance * magnitude / static_cast<double>(n);
  SeededRandom random(seed, kBootstrapStream);
  std::vector<double> means(samples);
  std::size_t extreme = 0;
  for (std::size_t s = 0; s < samples; ++s) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += d[random.below(n)];
    means[s] = sum / static_cast<double>(n);
    if (std::abs(means[s] - mean) >= threshold) ++extreme;
  }
  std::sort(means.begin(), means.end());
  Bootstrap result;
  result.p = static_cast<double>(extreme) / static_cast<double>(samples);
  const double tail = (1.0 - confidence) / 2.0;
  result.ci_low = quantile_of_sorted(means, tail);
  result.ci_high = quantile_of_sorted(means, 1.0 - tail);
  return result;
}

std::vector<double> correct_p_values(std::span<const double> p, Correction correction) {
  const std::size_t m = p.size();
  std::vector<double> corrected(p.begin(), p.end());
  switch (correction) {
    case Correction::none:
      break;
    case Correction::bonferroni:
      for (auto& value : corrected) value = std::min(1.0, value * static_cast<double>(m));
      break;
    case Correction::holm: {
      std::vector<std::size_t> order(m);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return p[x] < p[y]; });
      double running = 0.0;
      for (std::size_t rank = 0; rank < m; ++rank) {
        running = std::max(running, p[order[rank]] * static_cast<double>(m - rank));
        corrected[order[rank]] = std::min(1.0, running);
      }
      break;
    }
  }
  return corrected;
}

}  // namespace limit_eval::eval
