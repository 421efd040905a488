#pragma once

#include <string>

namespace limit_eval {

// `word` as one POSIX shell word: as it is when it holds only safe characters, else in single
// quotes. For the commands that messages and pages print, so that they run as printed.
std::string shell_word(const std::string& word);

}  // namespace limit_eval
