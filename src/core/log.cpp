#include "limit_eval/core/log.hpp"

#include <spdlog/spdlog.h>

namespace limit_eval::log {

void debug(const std::string& message) { spdlog::debug("{}", message); }
void info(const std::string& message) { spdlog::info("{}", message); }
void warn(const std::string& message) { spdlog::warn("{}", message); }

}  // namespace limit_eval::log
