#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace limit_eval::report::svg {

// Attribute name -> value, written in this order (values are escaped on output).
using Attributes = std::vector<std::pair<std::string, std::string>>;

// Text escaped for XML character data and attribute values.
std::string escape(std::string_view text);

// A coordinate with at most 2 decimals, trailing zeros dropped ("12.5", "3", "-0.25").
std::string coordinate(double value);

// Width of `text` at `font_size` px in a sans-serif font, estimated from character classes
// (generous, so that labels placed with it do not touch). The SVG is written without measuring
// fonts, so layout decisions rely on this estimate.
double text_width(std::string_view text, double font_size);

// An SVG document built element by element.
class Document {
 public:
  // `title` and `description` become the document's <title> and <desc> (read by screen readers).
  Document(double width, double height, std::string_view title, std::string_view description);

  void open_group(const Attributes& attributes);
  void close_group();
  void rect(double x, double y, double width, double height, const Attributes& style);
  void line(double x1, double y1, double x2, double y2, const Attributes& style);
  void polyline(const std::vector<std::pair<double, double>>& points, const Attributes& style);
  void polygon(const std::vector<std::pair<double, double>>& points, const Attributes& style);
  void circle(double cx, double cy, double radius, const Attributes& style);
  void text(double x, double y, std::string_view content, const Attributes& style);
  // A <title> child: the tooltip of the enclosing group.
  void tooltip(std::string_view content);

  // The complete document; every opened group must be closed.
  [[nodiscard]] std::string str() const;

 private:
  void element(std::string_view name, const Attributes& attributes, std::string_view content = {});
  std::string body_;
  std::string header_;
  int open_groups_ = 0;
  int indent_ = 1;
};

enum class MarkerShape { circle, square, triangle_up, triangle_down, diamond, pentagon, hexagon, star };

// A point marker of about `radius` px centred on (x, y).
void marker(Document& document, MarkerShape shape, double x, double y, double radius, const Attributes& style);

}  // namespace limit_eval::report::svg
