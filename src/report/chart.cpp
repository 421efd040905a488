#include "limit_eval/report/chart.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace limit_eval::report {

const std::vector<std::string>& colour_blind_safe_palette() {
  // Okabe, M. & Ito, K. (2008), "Color Universal Design": black, orange, sky blue, bluish green,
  // vermillion, blue, reddish purple, yellow (yellow last: weak contrast on white).
  static const std::vector<std::string> palette{"#000000", "#E69F00", "#56B4E9", "#009E73",
                                                "#D55E00", "#0072B2", "#CC79A7", "#F0E442"};
  return palette;
}

namespace {

constexpr double kOuterMargin = 12;
constexpr double kTitleBand = 34;
constexpr double kPanelLeft = 62;
constexpr double kPanelRight = 18;
constexpr double kPanelTop = 30;
constexpr double kTopAxisBand = 38;  // extra room above the plot of a panel with a top x axis
constexpr double kPanelBottom = 50;
constexpr double kTitleFont = 16;
constexpr double kPanelTitleFont = 13;
constexpr double kTickFont = 11;
constexpr double kAxisLabelFont = 12;
constexpr double kLegendFont = 12;
constexpr double kLegendRow = 20;
constexpr double kLegendSwatch = 28;
constexpr double kMarkerRadius = 5.5;
constexpr const char* kAxisColour = "#444444";
constexpr const char* kGridColour = "#e4e4e4";
constexpr const char* kTextColour = "#222222";

// Maps data values of one axis onto a pixel interval.
class AxisMap {
 public:
  AxisMap(const ChartAxis& axis, double from_px, double to_px) : axis_(axis), from_(from_px), to_(to_px) {}

  [[nodiscard]] double operator()(double value) const {
    const double span = transform(axis_.max) - transform(axis_.min);
    const double t = span == 0 ? 0.5 : (transform(value) - transform(axis_.min)) / span;
    return from_ + t * (to_ - from_);
  }

 private:
  [[nodiscard]] double transform(double value) const {
    return axis_.scale == AxisScale::log2 ? std::log2(std::max(value, 1e-12)) : value;
  }
  const ChartAxis& axis_;
  double from_;
  double to_;
};

svg::Attributes text_style(double size, const char* anchor = "middle", bool bold = false) {
  svg::Attributes style{{"font-size", svg::coordinate(size)}, {"fill", kTextColour}, {"text-anchor", anchor}};
  if (bold) style.emplace_back("font-weight", "bold");
  return style;
}

svg::Attributes marker_style(const ChartSeries& series) {
  if (series.filled) return {{"fill", series.colour}, {"stroke", "#ffffff"}, {"stroke-width", "0.8"}};
  return {{"fill", "none"}, {"stroke", series.colour}, {"stroke-width", "1.6"}};
}

// Indices of the ticks whose labels are drawn: every step-th, the smallest step at which no two
// drawn labels come closer than a small gap.
std::vector<bool> labelled_ticks(const std::vector<double>& centres, const std::vector<double>& widths) {
  const std::size_t n = centres.size();
  for (std::size_t step = 1; step <= std::max<std::size_t>(n, 1); ++step) {
    bool fits = true;
    for (std::size_t i = step; i < n && fits; i += step) {
      const double gap = std::abs(centres[i] - centres[i - step]) - (widths[i] + widths[i - step]) / 2;
      fits = gap >= 6;
    }
    if (fits) {
      std::vector<bool> shown(n, false);
      for (std::size_t i = 0; i < n; i += step) shown[i] = true;
      return shown;
    }
  }
  return std::vector<bool>(n, false);
}

void draw_axes(svg::Document& document, const ChartPanel& panel, double left, double top, double right, double bottom,
               double panel_left, double panel_bottom) {
  const AxisMap x_map(panel.x, left, right);
  const AxisMap y_map(panel.y, bottom, top);
  document.open_group({{"class", "axes"}});
  for (const auto& tick : panel.y.ticks) {
    const double y = y_map(tick.value);
    if (panel.y.grid) document.line(left, y, right, y, {{"stroke", kGridColour}, {"stroke-width", "1"}});
    document.line(left - 5, y, left, y, {{"stroke", kAxisColour}, {"stroke-width", "1"}});
    document.text(left - 8, y + kTickFont * 0.35, tick.label, text_style(kTickFont, "end"));
  }
  std::vector<double> centres;
  std::vector<double> widths;
  for (const auto& tick : panel.x.ticks) {
    centres.push_back(x_map(tick.value));
    widths.push_back(svg::text_width(tick.label, kTickFont));
  }
  const auto shown = labelled_ticks(centres, widths);
  for (std::size_t i = 0; i < panel.x.ticks.size(); ++i) {
    const double x = centres[i];
    if (panel.x.grid) document.line(x, top, x, bottom, {{"stroke", kGridColour}, {"stroke-width", "1"}});
    document.line(x, bottom, x, bottom + 5, {{"stroke", kAxisColour}, {"stroke-width", "1"}});
    if (shown[i]) document.text(x, bottom + 18, panel.x.ticks[i].label, text_style(kTickFont));
  }
  document.line(left, top, left, bottom, {{"stroke", kAxisColour}, {"stroke-width", "1.2"}});
  document.line(left, bottom, right, bottom, {{"stroke", kAxisColour}, {"stroke-width", "1.2"}});
  if (panel.x_top) {
    const AxisMap top_map(*panel.x_top, left, right);
    std::vector<double> top_centres;
    std::vector<double> top_widths;
    for (const auto& tick : panel.x_top->ticks) {
      top_centres.push_back(top_map(tick.value));
      top_widths.push_back(svg::text_width(tick.label, kTickFont));
    }
    const auto top_shown = labelled_ticks(top_centres, top_widths);
    for (std::size_t i = 0; i < panel.x_top->ticks.size(); ++i) {
      document.line(top_centres[i], top - 5, top_centres[i], top, {{"stroke", kAxisColour}, {"stroke-width", "1"}});
      if (top_shown[i]) document.text(top_centres[i], top - 8, panel.x_top->ticks[i].label, text_style(kTickFont));
    }
    document.line(left, top, right, top, {{"stroke", kAxisColour}, {"stroke-width", "1.2"}});
    document.text((left + right) / 2, top - 24, panel.x_top->label, text_style(kAxisLabelFont));
  }
  document.text((left + right) / 2, panel_bottom - 12, panel.x.label, text_style(kAxisLabelFont));
  const double y_label_x = panel_left + 16;
  const double y_label_y = (top + bottom) / 2;
  auto y_label_style = text_style(kAxisLabelFont);
  y_label_style.emplace_back("transform", fmt::format("rotate(-90 {} {})", svg::coordinate(y_label_x),
                                                      svg::coordinate(y_label_y)));
  document.text(y_label_x, y_label_y, panel.y.label, y_label_style);
  document.close_group();
}

// Pixel position of every point (series index, point index) of the panel. With `spread`, a marker
// that would overlap one already placed (series order) is nudged sideways by the smallest step
// that clears it: markers near each other in both x and y stay apart, all others sit exactly.
std::map<std::pair<std::size_t, std::size_t>, std::pair<double, double>> point_positions(const ChartPanel& panel,
                                                                                         const AxisMap& x_map,
                                                                                         const AxisMap& top_map,
                                                                                         const AxisMap& y_map,
                                                                                         bool spread) {
  std::map<std::pair<std::size_t, std::size_t>, std::pair<double, double>> positions;
  std::vector<std::pair<double, double>> placed;
  const double clearance = 2 * kMarkerRadius + 1.5;
  const auto clear = [&](double x, double y) {
    return std::none_of(placed.begin(), placed.end(),
                        [&](const auto& other) { return std::hypot(other.first - x, other.second - y) < clearance; });
  };
  for (std::size_t s = 0; s < panel.series.size(); ++s) {
    for (std::size_t p = 0; p < panel.series[s].points.size(); ++p) {
      const auto& point = panel.series[s].points[p];
      const double y = y_map(point.y);
      double x = panel.series[s].top_axis ? top_map(point.x) : x_map(point.x);
      if (spread) {
        const double exact_x = x;
        for (int step = 1; step <= 16 && !clear(x, y); ++step) {
          // Offsets +1, -1, +2, -2, ... steps.
          const double offset = ((step + 1) / 2) * (step % 2 == 1 ? 1.0 : -1.0) * (clearance * 0.5);
          x = exact_x + offset;
        }
      }
      placed.emplace_back(x, y);
      positions[{s, p}] = {x, y};
    }
  }
  return positions;
}

void draw_series(svg::Document& document, const ChartPanel& panel, bool spread, double left, double top, double right,
                 double bottom) {
  const AxisMap x_map(panel.x, left, right);
  const AxisMap top_map(panel.x_top ? *panel.x_top : panel.x, left, right);
  const AxisMap y_map(panel.y, bottom, top);
  const auto positions = point_positions(panel, x_map, top_map, y_map, spread);
  for (std::size_t s = 0; s < panel.series.size(); ++s) {
    const auto& series = panel.series[s];
    document.open_group({{"class", "series"}, {"data-series", series.name}});
    if (series.connect && series.points.size() > 1) {
      auto ordered = series.points;
      std::sort(ordered.begin(), ordered.end(), [](const ChartPoint& a, const ChartPoint& b) { return a.x < b.x; });
      std::vector<std::pair<double, double>> line;
      const AxisMap& series_map = series.top_axis ? top_map : x_map;
      for (const auto& point : ordered) line.emplace_back(series_map(point.x), y_map(point.y));
      svg::Attributes style{{"stroke", series.colour}, {"stroke-width", "2"}};
      if (series.dashed) style.emplace_back("stroke-dasharray", "6 4");
      document.polyline(line, style);
    }
    for (std::size_t p = 0; p < series.points.size(); ++p) {
      const auto& point = series.points[p];
      svg::Attributes attributes{{"class", "point"}};
      attributes.insert(attributes.end(), point.data.begin(), point.data.end());
      document.open_group(attributes);
      document.tooltip(point.tooltip);
      const auto& [x, y] = positions.at({s, p});
      svg::marker(document, series.shape, x, y, kMarkerRadius, marker_style(series));
      document.close_group();
    }
    document.close_group();
  }
}

struct LegendGroup {
  std::string heading;
  std::vector<const ChartSeries*> entries;
};

std::vector<LegendGroup> legend_groups(const Chart& chart) {
  std::vector<LegendGroup> groups;
  std::vector<std::pair<std::string, std::string>> seen;  // (group, name)
  for (const auto& panel : chart.panels) {
    for (const auto& series : panel.series) {
      const std::pair key{series.legend_group, series.name};
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      auto group = std::find_if(groups.begin(), groups.end(),
                                [&](const LegendGroup& g) { return g.heading == series.legend_group; });
      if (group == groups.end()) {
        groups.push_back({series.legend_group, {}});
        group = std::prev(groups.end());
      }
      group->entries.push_back(&series);
    }
  }
  return groups;
}

double entry_width(const ChartSeries& series) {
  return kLegendSwatch + 6 + svg::text_width(series.name, kLegendFont) + 18;
}

// Rows the legend takes, for the given number of columns.
std::size_t legend_rows(const std::vector<LegendGroup>& groups, std::size_t columns) {
  std::size_t rows = 0;
  for (const auto& group : groups) {
    if (!group.heading.empty()) ++rows;
    rows += (group.entries.size() + columns - 1) / columns;
  }
  return rows;
}

void draw_legend(svg::Document& document, const std::vector<LegendGroup>& groups, double left, double top,
                 double column_width, std::size_t columns) {
  document.open_group({{"class", "legend"}});
  double y = top;
  for (const auto& group : groups) {
    if (!group.heading.empty()) {
      document.text(left, y + kLegendRow * 0.7, group.heading, text_style(kLegendFont, "start", true));
      y += kLegendRow;
    }
    for (std::size_t i = 0; i < group.entries.size(); ++i) {
      const ChartSeries& series = *group.entries[i];
      const double x = left + static_cast<double>(i % columns) * column_width;
      const double row_y = y + static_cast<double>(i / columns) * kLegendRow;
      const double centre_y = row_y + kLegendRow / 2;
      document.open_group({{"class", "legend-entry"}, {"data-series", series.name}});
      if (series.connect) {
        svg::Attributes style{{"stroke", series.colour}, {"stroke-width", "2"}};
        if (series.dashed) style.emplace_back("stroke-dasharray", "6 4");
        document.line(x, centre_y, x + kLegendSwatch, centre_y, style);
      }
      svg::marker(document, series.shape, x + kLegendSwatch / 2, centre_y, kMarkerRadius, marker_style(series));
      document.text(x + kLegendSwatch + 6, centre_y + kLegendFont * 0.35, series.name,
                    text_style(kLegendFont, "start"));
      document.close_group();
    }
    y += static_cast<double>((group.entries.size() + columns - 1) / columns) * kLegendRow;
  }
  document.close_group();
}

}  // namespace

std::string render_chart(const Chart& chart) {
  const int columns = std::max(chart.columns, 1);
  const std::size_t panel_rows = (chart.panels.size() + static_cast<std::size_t>(columns) - 1) / static_cast<std::size_t>(columns);
  const double inner_width = chart.width - 2 * kOuterMargin;
  const double panel_width = inner_width / columns;

  const auto groups = legend_groups(chart);
  double column_width = 0;
  for (const auto& group : groups) {
    column_width = std::max(column_width, svg::text_width(group.heading, kLegendFont) + 12);
    for (const auto* series : group.entries) column_width = std::max(column_width, entry_width(*series));
  }
  const std::size_t legend_columns =
      column_width > 0 ? std::max<std::size_t>(1, static_cast<std::size_t>(inner_width / column_width)) : 1;
  if (legend_columns > 1) column_width = inner_width / static_cast<double>(legend_columns);
  const double legend_top = kOuterMargin + kTitleBand + static_cast<double>(panel_rows) * chart.panel_height + 8;
  const double height = legend_top + static_cast<double>(legend_rows(groups, legend_columns)) * kLegendRow + kOuterMargin;

  svg::Document document(chart.width, height, chart.title, chart.description);
  document.text(chart.width / 2, kOuterMargin + kTitleFont + 2, chart.title, text_style(kTitleFont, "middle", true));
  for (std::size_t i = 0; i < chart.panels.size(); ++i) {
    const auto& panel = chart.panels[i];
    const double panel_left = kOuterMargin + static_cast<double>(i % static_cast<std::size_t>(columns)) * panel_width;
    const double panel_top =
        kOuterMargin + kTitleBand + static_cast<double>(i / static_cast<std::size_t>(columns)) * chart.panel_height;
    const double left = panel_left + kPanelLeft;
    const double right = panel_left + panel_width - kPanelRight;
    const double top = panel_top + kPanelTop + (panel.x_top ? kTopAxisBand : 0.0);
    const double bottom = panel_top + chart.panel_height - kPanelBottom;
    document.open_group({{"class", "panel"}, {"data-title", panel.title}});
    if (!panel.title.empty()) {
      document.text((left + right) / 2, panel_top + 18, panel.title, text_style(kPanelTitleFont, "middle", true));
    }
    draw_axes(document, panel, left, top, right, bottom, panel_left, panel_top + chart.panel_height);
    draw_series(document, panel, chart.nudge_overlapping_markers, left, top, right, bottom);
    document.close_group();
  }
  draw_legend(document, groups, kOuterMargin, legend_top, column_width, legend_columns);
  return document.str();
}

}  // namespace limit_eval::report
