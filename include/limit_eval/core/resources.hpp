#pragma once

#include <filesystem>

namespace limit_eval {

// The folder of the running executable (/proc/self/exe); empty when it cannot be read.
std::filesystem::path executable_dir();

// The folder of limit-eval's read-only files: data/ (the shipped datasets, the attribute and name
// lists), models/registry.json and reference/. For an installed limit-eval (its executable in
// <prefix>/bin, see `cmake --install`) that is <prefix>/share/limit-eval; otherwise the source tree.
std::filesystem::path resource_dir();

// The folder of the neural encoder plugin: <prefix>/lib/limit-eval for an installed limit-eval,
// else the executable's own folder (the build folder).
std::filesystem::path plugin_dir();

}  // namespace limit_eval
