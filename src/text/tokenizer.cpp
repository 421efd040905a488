#include "limit_eval/text/tokenizer.hpp"

#include <utf8proc.h>

namespace limit_eval::text {

namespace {

// Python's str.isspace(): bidirectional class WS, B or S, or general category Zs.
bool is_python_space(utf8proc_int32_t c) {
  const utf8proc_property_t* p = utf8proc_get_property(c);
  return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

}  // namespace

std::string python_strip(std::string_view text) {
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const auto size = static_cast<utf8proc_ssize_t>(text.size());
  utf8proc_ssize_t begin = 0;
  utf8proc_ssize_t end = 0;   // one past the last non-space character
  utf8proc_ssize_t pos = 0;
  bool seen_non_space = false;
  while (pos < size) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t length = utf8proc_iterate(bytes + pos, size - pos, &c);
    if (length <= 0) {  // invalid UTF-8 is kept as it is; the tokenizer reports it
      if (!seen_non_space) begin = pos;
      seen_non_space = true;
      end = pos + 1;
      ++pos;
      continue;
    }
    if (!is_python_space(c)) {
      if (!seen_non_space) begin = pos;
      seen_non_space = true;
      end = pos + length;
    }
    pos += length;
  }
  if (!seen_non_space) return {};
  return std::string(text.substr(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)));
}

}  // namespace limit_eval::text
