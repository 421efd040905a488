#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace limit_eval {

// Lower-case hex SHA-256 of a file's bytes; throws IoError when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

// Lower-case hex SHA-256 of bytes.
std::string sha256_bytes(std::string_view bytes);

}  // namespace limit_eval
