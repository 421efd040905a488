#pragma once

#include <cstddef>
#include <string_view>

namespace limit_eval {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and values above U+10FFFF are ill-formed), or std::string_view::npos.
std::size_t find_invalid_utf8(std::string_view text);

// Unicode's White_Space property (PropList.txt): U+0009..U+000D, U+0020, U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. The one definition of whitespace for
// ids (trec_id); text tokenizers follow their reference implementations instead.
bool is_unicode_white_space(char32_t code_point);

// The length in bytes of the UTF-8 whitespace character (is_unicode_white_space) that `text`
// starts with, or 0 when it starts with anything else (or is empty or ill-formed there).
std::size_t white_space_length(std::string_view text);

}  // namespace limit_eval
