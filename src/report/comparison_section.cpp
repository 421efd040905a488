// The results page's comparison section (see report/comparison.hpp): paired tests of each model
// against BM25 and of fine-tuned models against their base, and the per-query difference figures.

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/file_name.hpp"
#include "limit_eval/core/shell.hpp"
#include "limit_eval/report/chart.hpp"
#include "limit_eval/report/comparison.hpp"
#include "limit_eval/report/results_page.hpp"
#include "limit_eval/report/table.hpp"

namespace limit_eval::report {

namespace {

constexpr const char* kPageMetric = "NDCG@10";
constexpr int kBins = 10;  // bins per unit of difference: width 0.1, centred on -1.0, -0.9, ..., 1.0

eval::ComparisonOptions page_options() {
  eval::ComparisonOptions options;
  options.metric = kPageMetric;
  options.test = eval::PairedTest::randomization;
  options.correction = eval::Correction::holm;
  options.alpha = 0.05;
  options.samples = 10000;
  options.seed = 42;
  return options;
}

// Share of the queries (a fraction, as every number on the page) per bin of the per-query differences (model - baseline).
std::map<int, double> difference_histogram(const eval::SystemScores& baseline, const eval::SystemScores& model,
                                           const std::string& metric) {
  std::map<int, std::size_t> counts;
  for (const auto& [id, values] : baseline.per_query) {
    const double difference = model.per_query.at(id).at(metric) - values.at(metric);
    const int bin = std::clamp(static_cast<int>(std::lround(difference * kBins)), -kBins, kBins);
    ++counts[bin];
  }
  std::map<int, double> share;
  for (int bin = -kBins; bin <= kBins; ++bin) {
    const auto it = counts.find(bin);
    share[bin] = it == counts.end() ? 0.0 : static_cast<double>(it->second) /
                                                static_cast<double>(baseline.per_query.size());
  }
  return share;
}

std::string bin_label(int bin) { return fmt::format("{:+.1f}", static_cast<double>(bin) / kBins); }

std::pair<std::string, std::pair<std::string, std::string>> difference_figure(
    const ComparisonGroup& group, const eval::Comparison& comparison, const std::vector<ComparedSystem>& systems,
    const std::string& figures_folder) {
  const auto& palette = colour_blind_safe_palette();
  static const std::vector<svg::MarkerShape> shapes{svg::MarkerShape::circle, svg::MarkerShape::square,
                                                    svg::MarkerShape::triangle_up, svg::MarkerShape::diamond,
                                                    svg::MarkerShape::triangle_down, svg::MarkerShape::pentagon};
  const std::string metric = comparison.options.metric;
  ChartAxis x_axis{.label = fmt::format("{} of the model − {} of the baseline, per query (bins of 0.1)", metric, metric),
                   .scale = AxisScale::linear, .min = -1.1, .max = 1.1, .ticks = {}, .grid = true};
  for (int bin = -kBins; bin <= kBins; bin += 2) x_axis.ticks.push_back({static_cast<double>(bin) / kBins, bin_label(bin)});
  ChartAxis y_axis{.label = "Share of the queries", .scale = AxisScale::linear, .min = -0.04, .max = 1.04, .ticks = {},
                   .grid = true};
  for (int value = 0; value <= 10; value += 2) {
    y_axis.ticks.push_back({value / 10.0, fmt::format("{:.1f}", value / 10.0)});
  }

  ChartPanel panel{.title = fmt::format("{}, model − baseline: share of the queries per difference", metric),
                   .x = x_axis, .y = y_axis, .series = {}, .x_top = std::nullopt};
  std::vector<std::string> header{"Difference (bin centre)"};
  std::vector<std::map<int, double>> histograms;
  for (std::size_t i = 0; i < comparison.pairs.size(); ++i) {
    const auto& pair = comparison.pairs[i];
    const auto& baseline = systems[pair.baseline].scores;
    const auto& model = systems[pair.model].scores;
    histograms.push_back(difference_histogram(baseline, model, metric));
    const std::string name = fmt::format("{} − {}", model.name, baseline.name);
    header.push_back(name + " (share)");
    ChartSeries series{.name = name, .legend_group = "", .colour = palette[(i + 1) % palette.size()],
                       .shape = shapes[i % shapes.size()], .filled = true, .connect = true, .dashed = false,
                       .points = {}};
    for (const auto& [bin, share] : histograms.back()) {
      series.points.push_back({.x = static_cast<double>(bin) / kBins,
                               .y = share,
                               .tooltip = fmt::format("{}: a share of {:.3f} of the queries differ by {} ± 0.05 in {}",
                                                      name, share, bin_label(bin), metric),
                               .data = {{"data-baseline", baseline.name},
                                        {"data-model", model.name},
                                        {"data-metric", metric},
                                        {"data-bin", bin_label(bin)},
                                        {"data-value", fmt::format("{:.3f}", share)}}});
    }
    panel.series.push_back(std::move(series));
  }
  Chart chart;
  chart.title = fmt::format("Per-query differences of {}: {}", metric, group.title);
  chart.description = fmt::format(
      "Distribution of the per-query differences of {} (model minus baseline), as the share of the queries per bin "
      "of width 0.1, one line per compared pair: {}.",
      metric, group.title);
  chart.columns = 1;
  chart.panel_height = 300;
  chart.panels.push_back(std::move(panel));

  std::vector<std::vector<std::string>> rows;
  for (int bin = -kBins; bin <= kBins; ++bin) {
    const bool any = std::any_of(histograms.begin(), histograms.end(), [&](const auto& h) { return h.at(bin) > 0; });
    if (!any) continue;
    std::vector<std::string> row{bin_label(bin)};
    for (const auto& histogram : histograms) row.push_back(fmt::format("{:.3f}", histogram.at(bin)));
    rows.push_back(std::move(row));
  }
  const std::string path = fmt::format("{}/differences_{}.svg", figures_folder, file_name_part(group.figure_name));
  std::string out = fmt::format("![Per-query differences of {}: {}]({})\n\n", metric, group.title, path);
  out += "Figure data (share of the queries per bin; bins without any query are left out):\n\n";
  out += markdown_grid(header, rows) + "\n";
  return {out, {path, render_chart(chart)}};
}

}  // namespace

PageSection comparison_section(const std::vector<ComparisonGroup>& groups, const std::string& figures_folder,
                               const std::string& binary) {
  const eval::ComparisonOptions options = page_options();
  PageSection section;
  std::string& out = section.markdown;
  out += "## Are the differences significant?\n\n";
  out += fmt::format(
      "Each model against BM25 on the same dataset, and each fine-tuned model against its base (0 samples): "
      "Fisher's randomization test of {} over the queries ({} permutations, seed {}), p-values Holm-corrected "
      "within each table, 95% paired-bootstrap intervals of the difference, wins/ties/losses over queries, and "
      "LIMIT's reading: queries fully right (every relevant document in the top k). `limit-eval compare` computes "
      "the same (see the command under each table; paths relative to the results folder), with `--json` for the "
      "query ids.\n\n",
      kPageMetric, options.samples, options.seed);
  if (groups.empty()) {
    out += "Nothing to compare yet: a comparison needs BM25 and another model on one dataset, or a fine-tuned model "
           "and its base.\n\n";
    return section;
  }
  for (const auto& group : groups) {
    std::vector<ResultFile> results;
    for (const auto* result : group.results) {
      ResultFile copy = *result;
      copy.path = result->relative_path;  // the page names files relative to the results folder
      results.push_back(std::move(copy));
    }
    std::vector<ComparedSystem> systems;
    eval::Comparison comparison;
    try {
      systems = compared_systems(results);
      std::vector<eval::SystemScores> scores;
      for (const auto& system : systems) scores.push_back(system.scores);
      comparison = eval::compare_systems(scores, group.baseline, options);
    } catch (const DataError& e) {
      out += fmt::format("### {}\n\nNot compared: {}\n\n", group.title, e.what());
      continue;
    }
    out += comparison_markdown(comparison, systems,
                               fmt::format("### {} ({} on {} queries)", group.title, kPageMetric, comparison.queries));
    std::vector<std::string> words{binary, "compare", "--baseline",
                                   shell_word(results[group.baseline].relative_path.generic_string())};
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (i != group.baseline) words.push_back(shell_word(results[i].relative_path.generic_string()));
    }
    words.insert(words.end(), {"--metric", kPageMetric, "--test", "randomization"});
    out += fmt::format("```bash\n{}\n```\n\n", fmt::join(words, " "));
    auto [markdown, figure] = difference_figure(group, comparison, systems, figures_folder);
    out += markdown;
    section.figures.push_back(std::move(figure));
  }
  return section;
}

}  // namespace limit_eval::report
