// Tiny flag parsing shared by the examples: "-name value" or "-name=value".
#ifndef SIGNET_EXAMPLES_EXAMPLE_FLAGS_H_
#define SIGNET_EXAMPLES_EXAMPLE_FLAGS_H_

#include <map>
#include <string>

namespace signet::examples {

// ParseFlags returns flag name (without dashes) -> value; false on a flag
// without a value.
inline bool ParseFlags(int argc, char** argv, std::map<std::string, std::string>* out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.empty() || a[0] != '-') return false;
    a = a.substr(a.find_first_not_of('-'));
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      (*out)[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      (*out)[a] = argv[++i];
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace signet::examples

#endif  // SIGNET_EXAMPLES_EXAMPLE_FLAGS_H_
