#include "limit_eval/report/results_page.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/file_name.hpp"
#include "limit_eval/core/shell.hpp"
#include "limit_eval/report/chart.hpp"
#include "limit_eval/report/comparison.hpp"
#include "limit_eval/report/table.hpp"

namespace limit_eval::report {

namespace {

constexpr const char* kAbsent = "—";  // not published / not applicable
constexpr const char* kSeedDevice = "1× NVIDIA A100 (seed)";
constexpr const char* kOursSource = "limit-eval";
constexpr const char* kPaperSource = "LIMIT paper";
constexpr const char* kSeedSource = "seed";
const std::vector<std::string> kSeedModelOrder{"bm25", "v1", "v2-distill", "v3-distill", "v3-gte"};
const std::vector<std::string> kSeedDatasets{"limit-small", "limit"};
const std::vector<std::string> kRecallColumns{"Recall@2", "Recall@10", "Recall@20", "Recall@100"};

std::string fixed4(double value) { return fmt::format("{:.4f}", value); }

std::string value_cell(const std::optional<double>& value) { return value ? fixed4(*value) : "n/a"; }

std::string published_cell(const std::optional<double>& value) { return value ? fixed4(*value) : kAbsent; }

std::optional<double> metric(const eval::MetricValues& values, const std::string& name) {
  const auto it = values.find(name);
  return it == values.end() ? std::nullopt : std::optional(it->second);
}

std::string difference_cell(const std::optional<double>& ours, const std::optional<double>& published) {
  if (!ours || !published) return kAbsent;
  const double difference = *ours - *published;
  if (std::abs(difference) < 0.00005) return "0.0000";
  return fmt::format("{:+.4f}", difference);
}

// Efficiency columns: documents' mean active dimensions and FLOPS per query-document pair.
const std::vector<std::string> kEfficiencyColumns{"Doc Active Dims (mean)", "FLOPS"};

std::vector<std::string> efficiency_cells(const ResultFile& result) {
  if (!result.efficiency) return {"n/a", "n/a"};
  return {fmt::format("{:.1f}", result.efficiency->documents.mean), fmt::format("{:.3f}", result.efficiency->flops)};
}

std::string date_cell(const std::string& date) { return date.size() >= 10 ? date.substr(0, 10) : date; }

std::string device_cell(const MeasuredOn& measured) {
  if (measured.device == "cpu" || measured.device_name.empty()) return measured.device;
  return fmt::format("{} ({})", measured.device, measured.device_name);
}

// A Hugging Face hub id ("owner/name"), as opposed to the local folder a model was exported from.
bool is_hub_id(const std::string& id) {
  const auto slash = id.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == id.size()) return false;
  if (id.find('/', slash + 1) != std::string::npos || id.starts_with('.') || id.starts_with('~')) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '/';
  });
}

std::string model_cell(const ResultFile& result) {
  if (result.source_id && is_hub_id(*result.source_id)) {
    return fmt::format("[{}](https://huggingface.co/{})", result.model, *result.source_id);
  }
  return result.model;
}

std::size_t rank_in(const std::vector<std::string>& order, const std::string& name) {
  return static_cast<std::size_t>(std::find(order.begin(), order.end(), name) - order.begin());
}

bool dataset_order_before(const std::string& a, const std::string& b) {
  const auto rank_a = rank_in(kSeedDatasets, a);
  const auto rank_b = rank_in(kSeedDatasets, b);
  return rank_a != rank_b ? rank_a < rank_b : a < b;
}

bool result_order_before(const ResultFile* a, const ResultFile* b) {
  if (a->dataset != b->dataset) return dataset_order_before(a->dataset, b->dataset);
  if (a->model != b->model) return model_order_before(a->model, b->model);
  return a->relative_path < b->relative_path;
}

std::string samples_label(std::uint64_t samples) {
  return samples == 0 ? std::string("0 (Zero-shot)") : std::to_string(samples);
}

// The results, grouped the way the page shows them.
struct Inventory {
  std::vector<std::string> datasets;                                    // page order
  std::map<std::string, std::vector<const ResultFile*>> zero_shot;      // dataset -> results in model order
  std::vector<const ResultFile*> all;                                   // page order

  struct FineTuneRow {
    std::uint64_t samples = 0;
    const ResultFile* result = nullptr;
    bool zero_shot_fallback = false;  // the base model's zero-shot result stands in for 0 samples
  };
  struct FineTuneSeries {
    std::string dataset;
    std::string base_model;
    std::vector<FineTuneRow> rows;  // by samples
  };
  std::vector<FineTuneSeries> fine_tune;
};

Inventory take_inventory(const std::vector<ResultFile>& results) {
  Inventory inventory;
  for (const auto& result : results) inventory.all.push_back(&result);
  std::sort(inventory.all.begin(), inventory.all.end(), result_order_before);

  inventory.datasets = kSeedDatasets;
  for (const auto* result : inventory.all) {
    if (std::find(inventory.datasets.begin(), inventory.datasets.end(), result->dataset) == inventory.datasets.end()) {
      inventory.datasets.push_back(result->dataset);  // inventory.all is in dataset order already
    }
    if (!result->fine_tuned()) inventory.zero_shot[result->dataset].push_back(result);
  }

  std::map<std::pair<std::string, std::string>, std::vector<Inventory::FineTuneRow>> series;
  for (const auto* result : inventory.all) {
    if (result->fine_tuned()) {
      series[{result->dataset, result->training->base_model}].push_back({result->training->samples, result, false});
    }
  }
  for (auto& [key, rows] : series) {
    const auto& [dataset, base_model] = key;
    const bool has_zero = std::any_of(rows.begin(), rows.end(), [](const auto& row) { return row.samples == 0; });
    if (!has_zero) {
      for (const auto* result : inventory.zero_shot[dataset]) {
        if (result->model == base_model) {
          rows.push_back({0, result, true});
          break;
        }
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.samples < b.samples; });
    inventory.fine_tune.push_back({dataset, base_model, std::move(rows)});
  }
  std::stable_sort(inventory.fine_tune.begin(), inventory.fine_tune.end(), [](const auto& a, const auto& b) {
    if (a.dataset != b.dataset) return dataset_order_before(a.dataset, b.dataset);
    return model_order_before(a.base_model, b.base_model);
  });
  return inventory;
}

// The published row a zero-shot result is compared with: the seed's, else (BM25) the LIMIT paper's.
struct Comparison {
  std::string label;
  std::string device;
  PublishedRow row;
};

std::optional<Comparison> zero_shot_comparison(const ResultFile& result, const PublishedResults& published) {
  if (const auto dataset = published.zero_shot.find(result.dataset); dataset != published.zero_shot.end()) {
    if (const auto row = dataset->second.find(result.model); row != dataset->second.end()) {
      return Comparison{"↳ seed (published)", kSeedDevice, row->second};
    }
  }
  if (result.model == "bm25") {
    if (const auto dataset = published.paper.find(result.dataset); dataset != published.paper.end()) {
      for (const auto& model : dataset->second) {
        if (model.name == kPaperBm25Name) return Comparison{"↳ LIMIT paper", kAbsent, {model.metrics, {}, {}}};
      }
    }
  }
  return std::nullopt;
}

std::string zero_shot_section(const std::string& dataset, const std::vector<const ResultFile*>& results,
                              const PublishedResults& published) {
  std::string out = fmt::format("## (Zero-Shot) {} Dataset\n\n", dataset);
  if (results.empty()) {
    out += fmt::format("No zero-shot result for {} yet.", dataset);
    if (dataset == "limit") {
      out += " LIMIT's 50,000-document corpus is not shipped: `scripts/download_data.sh limit`, then "
             "`scripts/run_experiments.sh --datasets limit`.";
    } else {
      out += fmt::format(" Run `scripts/run_experiments.sh --datasets {}`.", dataset);
    }
    return out + "\n\n";
  }
  std::vector<std::string> header{"Model"};
  for (const auto& column : table_metric_columns()) header.push_back(column);
  for (const char* column : {"Corpus Encoding Time (s)", "Query Encoding Time (s)", "Device", "dtype", "Date"}) {
    header.emplace_back(column);
  }
  header.insert(header.end(), kEfficiencyColumns.begin(), kEfficiencyColumns.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto* result : results) {
    std::vector<std::string> ours{model_cell(*result)};
    for (const auto& column : table_metric_columns()) ours.push_back(value_cell(metric(result->metrics, column)));
    ours.push_back(value_cell(result->corpus_encoding_s));
    ours.push_back(value_cell(result->query_encoding_s));
    ours.push_back(device_cell(result->environment));
    ours.push_back(result->environment.dtype);
    ours.push_back(date_cell(result->environment.date));
    for (auto& cell : efficiency_cells(*result)) ours.push_back(std::move(cell));
    rows.push_back(std::move(ours));

    const auto comparison = zero_shot_comparison(*result, published);
    if (!comparison) continue;
    std::vector<std::string> reference{comparison->label};
    std::vector<std::string> difference{"↳ difference"};
    for (const auto& column : table_metric_columns()) {
      const auto value = metric(comparison->row.metrics, column);
      reference.push_back(published_cell(value));
      difference.push_back(difference_cell(metric(result->metrics, column), value));
    }
    reference.push_back(published_cell(comparison->row.corpus_encoding_s));
    reference.push_back(published_cell(comparison->row.query_encoding_s));
    // Timings are not differenced: they come from different devices (see the Device column).
    difference.insert(difference.end(), {kAbsent, kAbsent});
    reference.insert(reference.end(), {comparison->device, kAbsent, kAbsent, kAbsent, kAbsent});
    difference.insert(difference.end(), {"", "", "", kAbsent, kAbsent});
    rows.push_back(std::move(reference));
    rows.push_back(std::move(difference));
  }
  return out + markdown_grid(header, rows) + "\n";
}

std::string fine_tune_section(const Inventory::FineTuneSeries& series, const PublishedResults& published) {
  std::string out = fmt::format("## (Finetune) {} Dataset: {}\n\n", series.dataset, series.base_model);
  out += fmt::format("Fine-tuned from `{}`; the 0-samples row is ", series.base_model);
  const bool fallback = std::any_of(series.rows.begin(), series.rows.end(),
                                    [](const auto& row) { return row.zero_shot_fallback; });
  out += fallback ? fmt::format("its zero-shot result (`{}`).", series.rows.front().result->relative_path.string())
                  : std::string("the untrained base model's result.");
  const std::map<std::uint64_t, PublishedRow>* seed = nullptr;
  if (series.base_model == kSeedFineTunedModel) {
    if (const auto it = published.fine_tune.find(series.dataset); it != published.fine_tune.end()) seed = &it->second;
  }
  if (seed != nullptr) out += " The seed publishes its fine-tuned values to 3 decimals.";
  out += "\n\n";

  std::vector<std::string> header{"Training Samples"};
  for (const auto& column : table_metric_columns()) header.push_back(column);
  for (const char* column : {"Model", "Device", "dtype", "Date"}) header.emplace_back(column);
  header.insert(header.end(), kEfficiencyColumns.begin(), kEfficiencyColumns.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : series.rows) {
    const ResultFile& result = *row.result;
    std::vector<std::string> ours{samples_label(row.samples)};
    for (const auto& column : table_metric_columns()) ours.push_back(value_cell(metric(result.metrics, column)));
    ours.push_back(row.zero_shot_fallback ? result.model + " (zero-shot)" : result.model);
    ours.push_back(device_cell(result.environment));
    ours.push_back(result.environment.dtype);
    ours.push_back(date_cell(result.environment.date));
    for (auto& cell : efficiency_cells(result)) ours.push_back(std::move(cell));
    rows.push_back(std::move(ours));
    if (seed == nullptr) continue;
    const auto published_row = seed->find(row.samples);
    if (published_row == seed->end()) continue;
    std::vector<std::string> reference{"↳ seed (published)"};
    std::vector<std::string> difference{"↳ difference"};
    for (const auto& column : table_metric_columns()) {
      const auto value = metric(published_row->second.metrics, column);
      reference.push_back(published_cell(value));
      difference.push_back(difference_cell(metric(result.metrics, column), value));
    }
    reference.insert(reference.end(),
                     {std::string(kSeedFineTunedModel) + " (seed)", kSeedDevice, kAbsent, kAbsent, kAbsent, kAbsent});
    difference.insert(difference.end(), {"", "", "", "", kAbsent, kAbsent});
    rows.push_back(std::move(reference));
    rows.push_back(std::move(difference));
  }
  return out + markdown_grid(header, rows) + "\n";
}

// Styles of the recall figure's series: our models filled circles in distinct colours, the LIMIT
// paper's models hollow shapes in grey (BM25 in black, beside ours).
std::string our_model_colour(const std::string& model, std::size_t other_index) {
  const auto& palette = colour_blind_safe_palette();
  const auto rank = rank_in(kSeedModelOrder, model);
  if (rank < kSeedModelOrder.size()) return palette[rank];
  return palette[5 + other_index % 2];
}

svg::MarkerShape our_model_shape(const std::string& model, std::size_t other_index) {
  static const std::vector<svg::MarkerShape> other_shapes{svg::MarkerShape::circle, svg::MarkerShape::circle,
                                                          svg::MarkerShape::hexagon, svg::MarkerShape::hexagon,
                                                          svg::MarkerShape::pentagon, svg::MarkerShape::pentagon};
  if (rank_in(kSeedModelOrder, model) < kSeedModelOrder.size()) return svg::MarkerShape::circle;
  return other_shapes[other_index % other_shapes.size()];
}

svg::MarkerShape paper_model_shape(std::size_t index) {
  static const std::vector<svg::MarkerShape> shapes{
      svg::MarkerShape::square,   svg::MarkerShape::triangle_up, svg::MarkerShape::diamond,
      svg::MarkerShape::triangle_down, svg::MarkerShape::pentagon, svg::MarkerShape::hexagon,
      svg::MarkerShape::star,     svg::MarkerShape::circle};
  return shapes[index % shapes.size()];
}

// The page shows every metric as a fraction (0 to 1), the tables and the figures alike.
ChartAxis fraction_axis(const std::string& label) {
  // A little room beyond 0 and 1 so that markers there are not cut by the axis or the frame.
  ChartAxis axis{.label = label, .scale = AxisScale::linear, .min = -0.04, .max = 1.04, .ticks = {}, .grid = true};
  for (int tenth = 0; tenth <= 10; tenth += 2) {
    axis.ticks.push_back({tenth / 10.0, fmt::format("{:.1f}", tenth / 10.0)});
  }
  return axis;
}

// One row of a figure's data table (and the points drawn from it).
struct FigureRow {
  std::string model;
  std::string source;
  std::uint64_t dimensions = 0;
  std::string dimensions_text;
  eval::MetricValues metrics;
  std::string colour;
  svg::MarkerShape shape = svg::MarkerShape::circle;
  bool filled = true;
  std::optional<double> active_dims;  // documents' mean active dimensions (our results' efficiency)
};

struct Figure {
  std::string markdown;
  std::optional<std::pair<std::string, std::string>> file;
};

Figure recall_figure(const std::string& dataset, const std::vector<const ResultFile*>& results,
                     const PublishedResults& published, const std::string& figures_folder) {
  std::vector<FigureRow> rows;
  std::vector<std::string> not_plotted;
  std::optional<std::uint64_t> bm25_dimensions;
  std::size_t other_index = 0;
  for (const auto* result : results) {
    const bool seed_model = rank_in(kSeedModelOrder, result->model) < kSeedModelOrder.size();
    const std::size_t style_index = seed_model ? 0 : other_index++;
    if (!result->dimensions) {
      not_plotted.push_back(fmt::format("{} (its result records no vocabulary size)", result->model));
      continue;
    }
    if (result->model == "bm25" && !bm25_dimensions) bm25_dimensions = result->dimensions;
    rows.push_back({result->model, kOursSource, *result->dimensions, std::to_string(*result->dimensions),
                    result->metrics, our_model_colour(result->model, style_index),
                    our_model_shape(result->model, style_index), true,
                    result->efficiency ? std::optional(result->efficiency->documents.mean) : std::nullopt});
  }
  const std::size_t ours = rows.size();
  if (ours == 0) {
    return {not_plotted.empty() ? std::string{}
                                : fmt::format("No recall figure for {}: {}.\n\n", dataset, fmt::join(not_plotted, "; ")),
            std::nullopt};
  }
  if (const auto paper = published.paper.find(dataset); paper != published.paper.end()) {
    std::size_t shape_index = 0;
    for (const auto& model : paper->second) {
      std::optional<std::uint64_t> dimensions = model.dimensions;
      std::string dimensions_text = dimensions ? std::to_string(*dimensions) : std::string{};
      const bool is_bm25 = model.name == kPaperBm25Name;
      if (!dimensions && is_bm25 && bm25_dimensions) {
        // bm25s on the same corpus with the same analyzer has our BM25's vocabulary.
        dimensions = bm25_dimensions;
        dimensions_text = fmt::format("{} (our BM25's vocabulary)", *dimensions);
      }
      if (!dimensions) {
        not_plotted.push_back(fmt::format("{} of the LIMIT paper (no single embedding size{})", model.name,
                                          is_bm25 ? ": no BM25 result of ours gives its vocabulary size" : ""));
        continue;
      }
      rows.push_back({model.name, kPaperSource, *dimensions, dimensions_text, model.metrics,
                      is_bm25 ? colour_blind_safe_palette()[0] : std::string("#666666"),
                      paper_model_shape(shape_index++), false, std::nullopt});
    }
  }

  std::vector<std::string> columns;
  for (const auto& column : kRecallColumns) {
    if (std::any_of(rows.begin(), rows.end(), [&](const FigureRow& row) { return row.metrics.contains(column); })) {
      columns.push_back(column);
    }
  }
  std::uint64_t smallest = rows.front().dimensions;
  std::uint64_t largest = smallest;
  for (const auto& row : rows) {
    smallest = std::min(smallest, row.dimensions);
    largest = std::max(largest, row.dimensions);
  }
  ChartAxis x_axis{.label = "Embedding size (dimensions, log scale)",
                   .scale = AxisScale::log2,
                   .min = std::exp2(std::floor(std::log2(static_cast<double>(smallest) / 1.25))),
                   .max = std::exp2(std::ceil(std::log2(static_cast<double>(largest) * 1.25))),
                   .ticks = {},
                   .grid = true};
  for (double tick = x_axis.min; tick <= x_axis.max; tick *= 2) {
    x_axis.ticks.push_back({tick, fmt::format("{}", static_cast<std::uint64_t>(tick))});
  }

  // Sparse vectors use few of their dimensions: our results also sit at their documents' mean active
  // dimensions, on a second x axis along the top.
  std::optional<ChartAxis> top_axis;
  const bool any_active = std::any_of(rows.begin(), rows.end(), [](const FigureRow& row) { return row.active_dims; });
  if (any_active) {
    double low = std::numeric_limits<double>::max();
    double high = 0.0;
    for (const auto& row : rows) {
      if (!row.active_dims) continue;
      low = std::min(low, std::max(*row.active_dims, 1.0));
      high = std::max(high, std::max(*row.active_dims, 1.0));
    }
    top_axis = ChartAxis{.label = "Mean active dimensions per document (log scale)",
                         .scale = AxisScale::log2,
                         .min = std::exp2(std::floor(std::log2(low / 1.25))),
                         .max = std::exp2(std::ceil(std::log2(high * 1.25))),
                         .ticks = {},
                         .grid = false};
    for (double tick = top_axis->min; tick <= top_axis->max; tick *= 2) {
      top_axis->ticks.push_back({tick, fmt::format("{}", static_cast<std::uint64_t>(tick))});
    }
  }

  Chart chart;
  chart.title = fmt::format("Recall against embedding size: {}", dataset);
  chart.description = fmt::format(
      "Recall@k (a fraction, 0 to 1) against the embedding size (log scale) on {}: limit-eval's results (filled circles) and "
      "the LIMIT paper's models (hollow shapes).",
      dataset);
  if (any_active) {
    chart.description += " Our models are drawn again, hollow, at their documents' mean active dimensions on the top "
                         "axis.";
  }
  chart.columns = columns.size() > 1 ? 2 : 1;
  chart.panel_height = any_active ? 308 : 270;
  chart.nudge_overlapping_markers = true;
  for (const auto& column : columns) {
    ChartPanel panel{.title = column, .x = x_axis, .y = fraction_axis(column), .series = {}, .x_top = top_axis};
    std::vector<ChartSeries> active_series;  // drawn (and listed) after every other series
    for (const auto& row : rows) {
      const auto value = metric(row.metrics, column);
      if (!value) continue;
      if (row.active_dims) {
        ChartSeries active{.name = row.model + " (mean active dims)",
                           .legend_group = "limit-eval (ours) at mean active dimensions per document (top axis)",
                           .colour = row.colour, .shape = row.shape, .filled = false, .connect = false,
                           .dashed = false, .points = {}, .top_axis = true};
        active.points.push_back({.x = *row.active_dims,
                                 .y = *value,
                                 .tooltip = fmt::format("{} ({}): {} = {} at {:.1f} mean active dimensions per document",
                                                        row.model, row.source, column, fixed4(*value), *row.active_dims),
                                 .data = {{"data-dataset", dataset},
                                          {"data-source", row.source},
                                          {"data-model", row.model},
                                          {"data-metric", column},
                                          {"data-value", fixed4(*value)},
                                          {"data-active-dims", fmt::format("{:.1f}", *row.active_dims)}}});
        active_series.push_back(std::move(active));
      }
      const std::string group = row.source == kOursSource ? "limit-eval (ours)" : "LIMIT paper (Weller et al. 2025)";
      ChartSeries series{.name = row.model, .legend_group = group, .colour = row.colour, .shape = row.shape,
                         .filled = row.filled, .connect = false, .dashed = false, .points = {}};
      series.points.push_back({.x = static_cast<double>(row.dimensions),
                               .y = *value,
                               .tooltip = fmt::format("{} ({}): {} = {} at {} dimensions", row.model, row.source,
                                                      column, fixed4(*value), row.dimensions),
                               .data = {{"data-dataset", dataset},
                                        {"data-source", row.source},
                                        {"data-model", row.model},
                                        {"data-metric", column},
                                        {"data-value", fixed4(*value)},
                                        {"data-dimensions", std::to_string(row.dimensions)}}});
      panel.series.push_back(std::move(series));
    }
    for (auto& active : active_series) panel.series.push_back(std::move(active));
    chart.panels.push_back(std::move(panel));
  }

  const std::string path = fmt::format("{}/recall_vs_dimensions_{}.svg", figures_folder, file_name_part(dataset));
  std::string out = fmt::format("#### {}\n\n![Recall against embedding size on {}]({})\n\n", dataset, dataset, path);
  out += fmt::format(
      "Filled circles: our results ({} of them); hollow shapes: the LIMIT paper's models. A marker that would hide "
      "another is nudged sideways by a few pixels.{} Figure data (fractions; the paper's percentages divided by "
      "100):\n\n",
      ours,
      any_active ? " Our models appear a second time, hollow in their own colour and shape, at their documents' mean "
                   "active dimensions (the top axis): what a sparse vector actually uses of its vocabulary."
                 : "");
  std::vector<std::string> header{"Model", "Source", "Embedding size"};
  if (any_active) header.emplace_back("Mean active dims (documents)");
  header.insert(header.end(), columns.begin(), columns.end());
  std::vector<std::vector<std::string>> table;
  for (const auto& row : rows) {
    std::vector<std::string> cells{row.model, row.source, row.dimensions_text};
    if (any_active) cells.push_back(row.active_dims ? fmt::format("{:.1f}", *row.active_dims) : std::string(kAbsent));
    for (const auto& column : columns) {
      const auto value = metric(row.metrics, column);
      cells.push_back(value ? fixed4(*value) : std::string(kAbsent));
    }
    table.push_back(std::move(cells));
  }
  out += markdown_grid(header, table) + "\n";
  if (!not_plotted.empty()) out += fmt::format("Not plotted: {}.\n\n", fmt::join(not_plotted, "; "));
  return {out, std::pair{path, render_chart(chart)}};
}

Figure fine_tune_figure(const Inventory::FineTuneSeries& series, const PublishedResults& published,
                        const std::string& figures_folder) {
  const std::map<std::uint64_t, PublishedRow>* seed = nullptr;
  if (series.base_model == kSeedFineTunedModel) {
    if (const auto it = published.fine_tune.find(series.dataset); it != published.fine_tune.end()) seed = &it->second;
  }
  std::vector<std::uint64_t> samples;
  for (const auto& row : series.rows) samples.push_back(row.samples);
  if (seed != nullptr) {
    for (const auto& [count, row] : *seed) samples.push_back(count);
  }
  std::sort(samples.begin(), samples.end());
  samples.erase(std::unique(samples.begin(), samples.end()), samples.end());
  const auto position = [&](std::uint64_t count) {
    return static_cast<double>(std::lower_bound(samples.begin(), samples.end(), count) - samples.begin());
  };
  ChartAxis x_axis{.label = "Training samples (categories)",
                   .scale = AxisScale::ordinal,
                   .min = -0.5,
                   .max = static_cast<double>(samples.size()) - 0.5,
                   .ticks = {},
                   .grid = false};
  for (const auto count : samples) x_axis.ticks.push_back({position(count), samples_label(count)});

  const auto& palette = colour_blind_safe_palette();
  const std::string ours_name = "limit-eval (ours)";
  const std::string seed_name = "seed (published, A100)";
  Chart chart;
  chart.title = fmt::format("Fine-tuning {} on {}: metrics against training samples", series.base_model,
                            series.dataset);
  chart.description = fmt::format(
      "One panel per metric (a fraction, 0 to 1) against the number of training samples: limit-eval's results (solid line, "
      "filled circles){}.",
      seed != nullptr ? " and the seed's published values (dashed line, hollow squares)" : "");
  chart.columns = 3;
  chart.panel_height = 230;
  for (const auto& column : table_metric_columns()) {
    ChartPanel panel{.title = column, .x = x_axis, .y = fraction_axis(column), .series = {}, .x_top = std::nullopt};
    ChartSeries ours{.name = ours_name, .legend_group = "", .colour = palette[4], .shape = svg::MarkerShape::circle,
                     .filled = true, .connect = true, .dashed = false, .points = {}};
    for (const auto& row : series.rows) {
      const auto value = metric(row.result->metrics, column);
      if (!value) continue;
      ours.points.push_back({.x = position(row.samples),
                             .y = *value,
                             .tooltip = fmt::format("{} ({} samples): {} = {}", row.result->model, row.samples, column,
                                                    fixed4(*value)),
                             .data = {{"data-dataset", series.dataset},
                                      {"data-source", kOursSource},
                                      {"data-model", row.result->model},
                                      {"data-samples", std::to_string(row.samples)},
                                      {"data-metric", column},
                                      {"data-value", fixed4(*value)}}});
    }
    if (!ours.points.empty()) panel.series.push_back(std::move(ours));
    if (seed != nullptr) {
      ChartSeries reference{.name = seed_name, .legend_group = "", .colour = palette[5],
                            .shape = svg::MarkerShape::square, .filled = false, .connect = true, .dashed = true,
                            .points = {}};
      for (const auto& [count, row] : *seed) {
        const auto value = metric(row.metrics, column);
        if (!value) continue;
        reference.points.push_back({.x = position(count),
                                    .y = *value,
                                    .tooltip = fmt::format("seed {} ({} samples): {} = {}", kSeedFineTunedModel, count,
                                                           column, fixed4(*value)),
                                    .data = {{"data-dataset", series.dataset},
                                             {"data-source", kSeedSource},
                                             {"data-model", kSeedFineTunedModel},
                                             {"data-samples", std::to_string(count)},
                                             {"data-metric", column},
                                             {"data-value", fixed4(*value)}}});
      }
      if (!reference.points.empty()) panel.series.push_back(std::move(reference));
    }
    chart.panels.push_back(std::move(panel));
  }

  const std::string path = fmt::format("{}/finetune_{}_{}.svg", figures_folder, file_name_part(series.dataset),
                                       file_name_part(series.base_model));
  std::string out = fmt::format("#### Fine-tuning {} on {}\n\n![Metrics against fine-tuning samples, {} on {}]({})\n\n",
                                series.base_model, series.dataset, series.base_model, series.dataset, path);
  out += fmt::format(
      "One panel per metric; the sample counts are evenly spaced categories. Solid line: our results{}. The "
      "figure's data is the (Finetune) {} table above.\n\n",
      seed != nullptr ? "; dashed line: the seed's published values" : "", series.dataset);
  return {out, std::pair{path, render_chart(chart)}};
}

// What the comparison section compares: per dataset, each zero-shot model against BM25; per
// fine-tuning series, each fine-tuned model against the 0-samples row.
std::vector<ComparisonGroup> comparison_groups(const Inventory& inventory) {
  std::vector<ComparisonGroup> groups;
  for (const auto& dataset : inventory.datasets) {
    const auto it = inventory.zero_shot.find(dataset);
    if (it == inventory.zero_shot.end() || it->second.size() < 2) continue;
    const auto& results = it->second;
    const auto bm25 = std::find_if(results.begin(), results.end(), [](const auto* r) { return r->model == "bm25"; });
    if (bm25 == results.end()) continue;
    groups.push_back({fmt::format("{}: each model against bm25", dataset), dataset, results,
                      static_cast<std::size_t>(bm25 - results.begin())});
  }
  for (const auto& series : inventory.fine_tune) {
    if (series.rows.size() < 2 || series.rows.front().samples != 0) continue;
    std::vector<const ResultFile*> results;
    for (const auto& row : series.rows) results.push_back(row.result);
    groups.push_back({fmt::format("{}: fine-tuned {} against its base", series.dataset, series.base_model),
                      fmt::format("{}_finetune_{}", series.dataset, series.base_model), results, 0});
  }
  return groups;
}

std::string optional_count_cell(const std::optional<std::uint64_t>& value) {
  return value ? std::to_string(*value) : std::string(kAbsent);
}

std::string text_cell(const std::string& value) { return value.empty() ? std::string(kAbsent) : value; }

// The limit-eval version, and for BM25 the Snowball release its stemmer was built from (stems, and
// so scores, differ between Snowball 2 and 3).
std::string limit_eval_cell(const ResultFile& result) {
  std::string cell = text_cell(result.environment.limit_eval_version);
  const auto snowball = result.model_description.find("snowball_version");
  if (snowball != result.model_description.end() && snowball->is_string()) {
    cell += fmt::format(" (Snowball {})", snowball->get<std::string>());
  }
  return cell;
}

std::string environment_section(const std::vector<const ResultFile*>& results) {
  std::string out = "## Where each result was measured\n\n";
  if (results.empty()) return out + "No result file yet.\n\n";
  std::vector<std::string> header{"Result file", "Model", "Dataset", "Device", "Device name", "dtype", "Threads",
                                  "Batch size", "CPU", "Host", "limit-eval", "Commit", "Date (UTC)"};
  std::vector<std::vector<std::string>> rows;
  for (const auto* result : results) {
    const auto& measured = result->environment;
    rows.push_back({fmt::format("`{}`", result->relative_path.generic_string()), result->model, result->dataset,
                    measured.device, text_cell(measured.device_name), measured.dtype,
                    optional_count_cell(measured.threads), optional_count_cell(measured.batch_size),
                    text_cell(measured.cpu), text_cell(measured.host), limit_eval_cell(*result),
                    text_cell(measured.git_commit), measured.date});
  }
  return out + markdown_grid(header, rows) + "\n";
}

// --dataset's value: the name when it resolves to the folder the result was measured on, else the
// recorded folder (a dataset given as a path: its name would not resolve).
std::string dataset_argument(const ResultFile& result, const ResultsPageOptions& options) {
  if (options.data_root.empty() || result.dataset_path.empty()) return result.dataset;
  std::error_code ec;
  const std::filesystem::path by_name = options.data_root / result.dataset;
  const std::filesystem::path recorded(result.dataset_path);
  const bool name_resolves = std::filesystem::is_directory(by_name, ec);
  const bool recorded_here = std::filesystem::is_directory(recorded, ec);
  if (name_resolves && (!recorded_here || std::filesystem::equivalent(by_name, recorded, ec))) return result.dataset;
  return recorded_here || !name_resolves ? result.dataset_path : result.dataset;
}

// --model's value: bm25; a registered short name when it resolves to the folder the result was
// measured with (or that folder is not on this machine); else the recorded folder.
std::string model_argument(const ResultFile& result, const ResultsPageOptions& options) {
  const std::string& model = result.model;
  if (model == "bm25" || !result.model_folder) return model;
  if (!options.registered_models.contains(model)) return *result.model_folder;
  if (options.models_root.empty()) return model;
  std::error_code ec;
  const std::filesystem::path recorded(*result.model_folder);
  if (!std::filesystem::is_directory(recorded, ec)) return model;
  const std::filesystem::path by_name = options.models_root / model;
  return std::filesystem::equivalent(by_name, recorded, ec) ? model : *result.model_folder;
}

std::string reproduce_command(const ResultFile& result, const ResultsPageOptions& options) {
  const std::string model = model_argument(result, options);
  std::vector<std::string> words{options.binary, "--model", model, "--dataset", dataset_argument(result, options)};
  const auto& settings = result.settings;
  if (settings.top_k) words.insert(words.end(), {"--top-k", std::to_string(*settings.top_k)});
  if (!settings.k_values.empty()) words.insert(words.end(), {"--k", fmt::format("{}", fmt::join(settings.k_values, ","))});
  if (settings.relevance_level) words.insert(words.end(), {"--relevance-level", std::to_string(*settings.relevance_level)});
  if (settings.ignore_identical_ids && !*settings.ignore_identical_ids) words.emplace_back("--keep-identical-ids");
  const auto& measured = result.environment;
  if (measured.threads) words.insert(words.end(), {"--threads", std::to_string(*measured.threads)});
  if (result.model_kind != "bm25") {
    words.insert(words.end(), {"--device", measured.device, "--dtype", measured.dtype});
    if (measured.batch_size) words.insert(words.end(), {"--batch-size", std::to_string(*measured.batch_size)});
  }
  std::vector<std::string> quoted;
  quoted.reserve(words.size());
  for (const auto& word : words) quoted.push_back(shell_word(word));
  return fmt::format("{}", fmt::join(quoted, " "));
}

std::string reproduce_section(const std::vector<const ResultFile*>& results, const ResultsPageOptions& options) {
  std::string out = "## Reproducing\n\n";
  out += "Build with `scripts/build.sh`; LIMIT's corpus comes from `scripts/download_data.sh limit`; the neural "
         "models are exported with `scripts/export_model.sh` (see the repository README). Run the commands from the "
         "repository's root. "
         "`scripts/run_experiments.sh` runs the whole sweep and regenerates this page. Each result below came from "
         "the command after it (results land in `results/<dataset>/<model>.json`); timings depend on the "
         "machine.\n\n";
  if (results.empty()) return out;
  out += "```bash\n";
  for (const auto* result : results) {
    out += fmt::format("# {}: {} on {}, {}, {}\n", result->relative_path.generic_string(), result->model,
                       result->dataset, device_cell(result->environment), date_cell(result->environment.date));
    out += reproduce_command(*result, options) + "\n";
  }
  return out + "```\n\n";
}

std::string sources_section(const PublishedResults& published) {
  return fmt::format(
      "## Sources of the published values\n\n"
      "From `reference/published-results.json`:\n\n"
      "- seed (zero-shot rows): {}\n"
      "- seed (fine-tuned rows): {}\n"
      "- LIMIT paper (BM25 row, figure points): {}\n",
      published.zero_shot_source, published.fine_tune_source, published.paper_source);
}

}  // namespace

bool model_order_before(const std::string& a, const std::string& b) {
  const auto rank_a = rank_in(kSeedModelOrder, a);
  const auto rank_b = rank_in(kSeedModelOrder, b);
  return rank_a != rank_b ? rank_a < rank_b : a < b;
}

ResultsPage build_results_page(const std::vector<ResultFile>& results, const PublishedResults& published,
                               const ResultsPageOptions& options) {
  const Inventory inventory = take_inventory(results);
  ResultsPage page;
  std::string& out = page.markdown;
  out += "# limit-eval results\n\n";
  out += "<!-- Generated by `limit-eval report` from the result files; edits are overwritten. -->\n\n";
  out += fmt::format(
      "{} result file{}. Tables mirror the reference study's README (the seed). Under each of our rows, "
      "`↳ seed (published)` is the seed's value (`↳ LIMIT paper` for BM25) and `↳ difference` is ours minus "
      "published. Encoding times are never differenced: the seed measured on one NVIDIA A100 GPU, and the "
      "Device column says where each of ours was measured. `n/a`: not in our result; `—`: not published. Every "
      "metric on this page, in the tables and the figures, is a fraction from 0 to 1 (the LIMIT paper's "
      "percentages are divided by 100).\n\n",
      results.size(), results.size() == 1 ? "" : "s");

  for (const auto& dataset : inventory.datasets) {
    const auto it = inventory.zero_shot.find(dataset);
    out += zero_shot_section(dataset, it == inventory.zero_shot.end() ? std::vector<const ResultFile*>{} : it->second,
                             published);
  }
  if (inventory.fine_tune.empty()) {
    out += "## (Finetune) results\n\n"
           "No fine-tuned result yet (a fine-tuned result records `model.description.training.samples`).\n\n";
  }
  for (const auto& series : inventory.fine_tune) out += fine_tune_section(series, published);

  PageSection comparisons = comparison_section(comparison_groups(inventory), options.figures_folder, options.binary);
  out += comparisons.markdown;

  out += "## Figures\n\n### Recall against embedding size\n\n";
  bool any_recall_figure = false;
  for (const auto& dataset : inventory.datasets) {
    const auto it = inventory.zero_shot.find(dataset);
    if (it == inventory.zero_shot.end()) continue;
    Figure figure = recall_figure(dataset, it->second, published, options.figures_folder);
    out += figure.markdown;
    if (figure.file) {
      page.figures.push_back(std::move(*figure.file));
      any_recall_figure = true;
    }
  }
  if (!any_recall_figure) out += "No zero-shot result with a known embedding size yet: the figure is omitted.\n\n";

  out += "### Fine-tuning samples against metrics\n\n";
  if (inventory.fine_tune.empty()) out += "No fine-tuned result yet: the figure is omitted.\n\n";
  for (const auto& series : inventory.fine_tune) {
    Figure figure = fine_tune_figure(series, published, options.figures_folder);
    out += figure.markdown;
    if (figure.file) page.figures.push_back(std::move(*figure.file));
  }

  for (auto& figure : comparisons.figures) page.figures.push_back(std::move(figure));

  out += environment_section(inventory.all);
  out += reproduce_section(inventory.all, options);
  out += sources_section(published);
  return page;
}

void write_results_page(const ResultsPage& page, const std::filesystem::path& markdown_path) {
  const auto folder = markdown_path.parent_path();
  std::vector<std::unique_ptr<AtomicFileWriter>> files;
  for (const auto& [relative, svg_text] : page.figures) {
    const std::filesystem::path figure(relative);
    if (figure.is_absolute() || std::find(figure.begin(), figure.end(), "..") != figure.end()) {
      throw ContractError(fmt::format("write_results_page: figure path '{}' leaves the page's folder", relative));
    }
    files.push_back(std::make_unique<AtomicFileWriter>(folder / relative));
    files.back()->stream() << svg_text;
  }
  files.push_back(std::make_unique<AtomicFileWriter>(markdown_path));
  files.back()->stream() << page.markdown;
  for (auto& file : files) file->commit();
}

}  // namespace limit_eval::report
