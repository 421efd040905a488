#pragma once

#include <cstddef>
#include <string_view>

namespace limit_eval {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and values above U+10FFFF are ill-formed), or std::string_view::npos.
std::size_t find_invalid_utf8(std::string_view text);

}  // namespace limit_eval
