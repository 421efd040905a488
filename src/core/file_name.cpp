#include "limit_eval/core/file_name.hpp"

#include <algorithm>

namespace limit_eval {

std::string file_name_part(std::string_view name) {
  std::string part;
  part.reserve(std::min(name.size() + 1, kMaxFileNamePart));
  for (const char c : name) {
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    part.push_back(keep ? c : '_');
  }
  if (part.empty() || part.front() == '.') part.insert(part.begin(), '_');
  if (part.size() > kMaxFileNamePart) part.resize(kMaxFileNamePart);
  return part;
}

}  // namespace limit_eval
