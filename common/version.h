// The build's version, as `signet-server --version` and `signet-agent
// --version` print it and as the startup log lines carry it.
#ifndef SIGNET_COMMON_VERSION_H_
#define SIGNET_COMMON_VERSION_H_

namespace signet {

// VersionString returns "<project version>-<short git commit>", e.g.
// "0.1.0-1a2b3c4", with "unknown" as the commit when the tree was built
// outside git (cmake/SignetVersion.cmake).
const char* VersionString();

}  // namespace signet

#endif  // SIGNET_COMMON_VERSION_H_
