#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "limit_eval/report/svg.hpp"

namespace limit_eval::report {

// Okabe & Ito's colour-blind-safe palette (black first), for series that must be told apart.
const std::vector<std::string>& colour_blind_safe_palette();

struct ChartPoint {
  double x = 0.0;
  double y = 0.0;
  std::string tooltip;
  svg::Attributes data;  // data-* attributes of the point's <g class="point">, for machine checks
};

struct ChartSeries {
  std::string name;          // legend label
  std::string legend_group;  // legend heading the entry is listed under
  std::string colour;
  svg::MarkerShape shape = svg::MarkerShape::circle;
  bool filled = true;
  bool connect = false;  // draw a line through the points in x order
  bool dashed = false;
  std::vector<ChartPoint> points;
  bool top_axis = false;  // x values on the panel's x_top axis instead of its x axis
};

enum class AxisScale { linear, log2, ordinal };

struct ChartTick {
  double value = 0.0;
  std::string label;
};

struct ChartAxis {
  std::string label;
  AxisScale scale = AxisScale::linear;
  double min = 0.0;  // data units (ordinal: category index, e.g. -0.5 .. n - 0.5)
  double max = 1.0;
  std::vector<ChartTick> ticks;
  bool grid = false;  // light grid lines at the ticks
};

struct ChartPanel {
  std::string title;
  ChartAxis x;
  ChartAxis y;
  std::vector<ChartSeries> series;
  // A second x axis along the top edge (ticks and label above the plot), for the series with
  // top_axis set; the panel makes room for it below its title.
  std::optional<ChartAxis> x_top;
};

struct Chart {
  std::string title;
  std::string description;  // the SVG's <desc>
  double width = 800;
  int columns = 1;
  double panel_height = 300;
  // A marker of one panel that would overlap another is nudged sideways by a few pixels, so that
  // none hides another; the data attributes keep the exact values.
  bool nudge_overlapping_markers = false;
  std::vector<ChartPanel> panels;
};

// The chart as a standalone SVG: title, panels in a grid (axes, ticks, labels, points with their
// data attributes and tooltips), and one legend below, grouped by legend_group, listing every
// series once (by legend group and name) in first-seen order. Tick labels that would collide are thinned.
std::string render_chart(const Chart& chart);

}  // namespace limit_eval::report
