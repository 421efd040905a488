#include "limit_eval/report/svg.hpp"

#include <cassert>
#include <cctype>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace limit_eval::report::svg {

std::string escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&apos;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string coordinate(double value) {
  std::string text = fmt::format("{:.2f}", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  if (text == "-0") text = "0";
  return text;
}

double text_width(std::string_view text, double font_size) {
  double em = 0.0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte: counted with its lead byte
    if (c >= 0x80) {
      em += 0.75;
    } else if (c == ' ' || c == '.' || c == ',' || c == ':' || c == ';' || c == '|' || c == 'i' || c == 'l' ||
               c == 'j' || c == '\'' || c == '!' || c == '(' || c == ')' || c == '[' || c == ']') {
      em += 0.34;
    } else if (c == 'm' || c == 'w' || c == 'M' || c == 'W' || c == '@' || c == '%') {
      em += 0.95;
    } else if (std::isupper(c) != 0) {
      em += 0.72;
    } else {
      em += 0.6;
    }
  }
  return em * font_size;
}

namespace {
std::string attribute_text(const Attributes& attributes) {
  std::string text;
  for (const auto& [name, value] : attributes) text += fmt::format(" {}=\"{}\"", name, escape(value));
  return text;
}
}  // namespace

Document::Document(double width, double height, std::string_view title, std::string_view description) {
  header_ = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "role=\"img\" font-family=\"DejaVu Sans, Verdana, Arial, Helvetica, sans-serif\">\n"
      "  <title>{2}</title>\n  <desc>{3}</desc>\n",
      coordinate(width), coordinate(height), escape(title), escape(description));
  rect(0, 0, width, height, {{"fill", "#ffffff"}});
}

void Document::element(std::string_view name, const Attributes& attributes, std::string_view content) {
  body_.append(static_cast<std::size_t>(indent_) * 2, ' ');
  if (content.empty()) {
    body_ += fmt::format("<{}{}/>\n", name, attribute_text(attributes));
  } else {
    body_ += fmt::format("<{0}{1}>{2}</{0}>\n", name, attribute_text(attributes), escape(content));
  }
}

void Document::open_group(const Attributes& attributes) {
  body_.append(static_cast<std::size_t>(indent_) * 2, ' ');
  body_ += fmt::format("<g{}>\n", attribute_text(attributes));
  ++open_groups_;
  ++indent_;
}

void Document::close_group() {
  assert(open_groups_ > 0);
  --open_groups_;
  --indent_;
  body_.append(static_cast<std::size_t>(indent_) * 2, ' ');
  body_ += "</g>\n";
}

void Document::rect(double x, double y, double width, double height, const Attributes& style) {
  Attributes attributes{{"x", coordinate(x)}, {"y", coordinate(y)}, {"width", coordinate(width)},
                        {"height", coordinate(height)}};
  attributes.insert(attributes.end(), style.begin(), style.end());
  element("rect", attributes);
}

void Document::line(double x1, double y1, double x2, double y2, const Attributes& style) {
  Attributes attributes{{"x1", coordinate(x1)}, {"y1", coordinate(y1)}, {"x2", coordinate(x2)}, {"y2", coordinate(y2)}};
  attributes.insert(attributes.end(), style.begin(), style.end());
  element("line", attributes);
}

namespace {
std::string point_list(const std::vector<std::pair<double, double>>& points) {
  std::string text;
  for (const auto& [x, y] : points) {
    if (!text.empty()) text += ' ';
    text += coordinate(x) + "," + coordinate(y);
  }
  return text;
}
}  // namespace

void Document::polyline(const std::vector<std::pair<double, double>>& points, const Attributes& style) {
  Attributes attributes{{"points", point_list(points)}, {"fill", "none"}};
  attributes.insert(attributes.end(), style.begin(), style.end());
  element("polyline", attributes);
}

void Document::polygon(const std::vector<std::pair<double, double>>& points, const Attributes& style) {
  Attributes attributes{{"points", point_list(points)}};
  attributes.insert(attributes.end(), style.begin(), style.end());
  element("polygon", attributes);
}

void Document::circle(double cx, double cy, double radius, const Attributes& style) {
  Attributes attributes{{"cx", coordinate(cx)}, {"cy", coordinate(cy)}, {"r", coordinate(radius)}};
  attributes.insert(attributes.end(), style.begin(), style.end());
  element("circle", attributes);
}

void Document::text(double x, double y, std::string_view content, const Attributes& style) {
  Attributes attributes{{"x", coordinate(x)}, {"y", coordinate(y)}};
  attributes.insert(attributes.end(), style.begin(), style.end());
  element("text", attributes, content);
}

void Document::tooltip(std::string_view content) { element("title", {}, content); }

std::string Document::str() const {
  assert(open_groups_ == 0);
  return header_ + body_ + "</svg>\n";
}

namespace {
// Vertices of a regular polygon of `corners` corners around (x, y), the first one straight up
// (or down when `point_down`).
std::vector<std::pair<double, double>> regular_polygon(int corners, double x, double y, double radius,
                                                       bool point_down = false) {
  std::vector<std::pair<double, double>> points;
  for (int i = 0; i < corners; ++i) {
    const double angle = (point_down ? std::numbers::pi / 2 : -std::numbers::pi / 2) + 2 * std::numbers::pi * i / corners;
    points.emplace_back(x + radius * std::cos(angle), y + radius * std::sin(angle));
  }
  return points;
}
}  // namespace

void marker(Document& document, MarkerShape shape, double x, double y, double radius, const Attributes& style) {
  switch (shape) {
    case MarkerShape::circle:
      document.circle(x, y, radius, style);
      break;
    case MarkerShape::square: {
      const double half = radius * 0.88;  // same visual weight as the circle
      document.rect(x - half, y - half, 2 * half, 2 * half, style);
      break;
    }
    case MarkerShape::triangle_up:
      document.polygon(regular_polygon(3, x, y + radius * 0.15, radius * 1.2), style);
      break;
    case MarkerShape::triangle_down:
      document.polygon(regular_polygon(3, x, y - radius * 0.15, radius * 1.2, true), style);
      break;
    case MarkerShape::diamond:
      document.polygon(regular_polygon(4, x, y, radius * 1.2), style);
      break;
    case MarkerShape::pentagon:
      document.polygon(regular_polygon(5, x, y, radius * 1.1), style);
      break;
    case MarkerShape::hexagon:
      document.polygon(regular_polygon(6, x, y, radius * 1.05), style);
      break;
    case MarkerShape::star: {
      std::vector<std::pair<double, double>> points;
      for (int i = 0; i < 10; ++i) {
        const double r = (i % 2 == 0) ? radius * 1.35 : radius * 0.6;
        const double angle = -std::numbers::pi / 2 + std::numbers::pi * i / 5;
        points.emplace_back(x + r * std::cos(angle), y + r * std::sin(angle));
      }
      document.polygon(points, style);
      break;
    }
  }
}

}  // namespace limit_eval::report::svg
