#pragma once

// Paired significance tests over per-query scores, and corrections for multiple comparisons.
// Torch-free and deterministic: the resampling tests draw from core/random.hpp's SeededRandom, so
// the same scores, sample count and seed give the same p-values on every machine.
//
// Conventions: `a` is the control (the baseline), `b` the treatment; the difference is b - a, per
// query d_i = b_i - a_i, paired by position. Every p-value is two-sided.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace limit_eval::eval {

enum class PairedTest { t, randomization, bootstrap };
enum class Correction { none, bonferroni, holm };

[[nodiscard]] std::string to_string(PairedTest test);
[[nodiscard]] std::string to_string(Correction correction);

struct TTest {
  double t = 0.0;   // mean(d) / (sd(d) / sqrt(n)), sd with n - 1 degrees of freedom
  double df = 0.0;  // n - 1
  double p = 1.0;
};

// Student's paired t-test, as scipy.stats.ttest_rel(b, a) computes it. Where scipy gives NaN
// (every difference 0, so t = 0/0) the result is t = 0, p = 1: no evidence of a difference. A
// constant non-zero difference gives t = +-inf and p = 0, as in scipy. Needs n >= 2 (UsageError).
[[nodiscard]] TTest paired_t_test(std::span<const double> a, std::span<const double> b);

// Two-sided tail probability P(|T| >= |t|) of Student's t distribution with df degrees of freedom.
[[nodiscard]] double student_t_two_sided_p(double t, double df);

// Regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1.
[[nodiscard]] double regularized_incomplete_beta(double x, double a, double b);

// Fisher's randomization test as ranx computes it (Smucker et al., CIKM 2007): each of
// `permutations` trials swaps the two systems' scores of each query with probability 1/2, and
// p = (trials whose |mean difference| >= the observed |mean difference|) / permutations. A trial
// whose difference equals the observed one up to float rounding (1e-12 of sum |d_i|) counts.
[[nodiscard]] double randomization_test(std::span<const double> a, std::span<const double> b,
                                        std::size_t permutations, std::uint64_t seed);

struct Bootstrap {
  double p = 1.0;
  double ci_low = 0.0;   // percentile interval of the mean difference
  double ci_high = 0.0;
};

// Paired bootstrap over queries: `samples` resamples of the n queries with replacement, the same
// indices for both systems. The interval is the percentile interval of the resampled mean
// differences at `confidence` (linear interpolation between order statistics, numpy's default);
// p is the shift-method test of Efron & Tibshirani (the resampled differences centred on 0):
// (resamples whose |mean - observed mean| >= |observed mean|) / samples. Needs n >= 1.
[[nodiscard]] Bootstrap paired_bootstrap(std::span<const double> a, std::span<const double> b, std::size_t samples,
                                         std::uint64_t seed, double confidence);

// p-values corrected for `p.size()` comparisons as statsmodels' multipletests computes them:
// Bonferroni min(1, m p); Holm's step-down: sorted ascending, p_(i) * (m - i + 1), made
// non-decreasing by a running maximum, capped at 1. Returned in the input order.
[[nodiscard]] std::vector<double> correct_p_values(std::span<const double> p, Correction correction);

}  // namespace limit_eval::eval
