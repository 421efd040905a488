#pragma once

#include <string>

namespace limit_eval::log {

// Logging entry points for translation units that cannot include spdlog: those compiled against
// libtorch, whose bundled fmt headers shadow the fmt that Debian's spdlog was built with.
void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);

}  // namespace limit_eval::log
