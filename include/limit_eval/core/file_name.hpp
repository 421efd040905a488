#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace limit_eval {

// The longest name file_name_part returns, well under the 255 bytes of a file name.
inline constexpr std::size_t kMaxFileNamePart = 100;

// `name` as one path component that stays in the folder it is joined to, for the names that files
// made by others carry (a model's name in its manifest, a dataset's or model's name in a results
// JSON) and that become part of a file name: ASCII letters, digits, '.', '-' and '_' are kept and
// every other byte becomes '_' (so '/' and NUL never pass); a leading '.' ("..", ".", hidden
// files) gets a '_' before it; an empty name gives "_"; at most kMaxFileNamePart bytes.
std::string file_name_part(std::string_view name);

}  // namespace limit_eval
