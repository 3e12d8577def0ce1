// KeyManager: where the server keeps its CA and JWT signing keys. `disk`
// stores each key as a PKCS#8 PEM file (0600) in a directory; `memory` keeps
// them in the process only (a restart starts a new CA).
#ifndef SIGNET_SERVER_KEY_MANAGER_H_
#define SIGNET_SERVER_KEY_MANAGER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/keys.h"
#include "common/openssl_util.h"

namespace signet::server {

// KeyManager is thread-safe. Key names are [a-zA-Z0-9_-]+.
class KeyManager {
 public:
  virtual ~KeyManager() = default;
  // GenerateKey creates and stores a new key named `name` (replacing any) and
  // returns it. InvalidArgument for a bad name, Internal when it cannot be
  // stored.
  [[nodiscard]] virtual absl::StatusOr<EvpPkeyPtr> GenerateKey(const std::string& name,
                                                               KeyType type) = 0;
  // GetKey returns the key named `name`; NotFound when absent.
  [[nodiscard]] virtual absl::StatusOr<EvpPkeyPtr> GetKey(const std::string& name) = 0;
  // DeleteKey removes the key (OK when absent).
  [[nodiscard]] virtual absl::Status DeleteKey(const std::string& name) = 0;
  // Location names where key `name` is kept, for messages: the file path for
  // `disk`.
  virtual std::string Location(const std::string& name) const {
    return "key \"" + name + "\" (in memory)";
  }
};

// NewDiskKeyManager returns a KeyManager storing keys in `dir` (created 0700).
// Internal when the directory cannot be created.
[[nodiscard]] absl::StatusOr<std::unique_ptr<KeyManager>> NewDiskKeyManager(const std::string& dir);

// ListCaKeyFiles returns the paths of the CA's key files in the `disk` key
// directory `dir` (x509-ca-*.pem and jwt-key-*.pem, as ServerCa names them),
// sorted; none when `dir` does not exist. Internal when it cannot be read.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ListCaKeyFiles(const std::string& dir);

// NewMemoryKeyManager returns a KeyManager that keeps keys in memory.
std::unique_ptr<KeyManager> NewMemoryKeyManager();

// MakeDirs creates `path` and its parents with `mode` (existing directories
// are left alone). Internal naming the path on failure.
[[nodiscard]] absl::Status MakeDirs(const std::string& path, int mode);

}  // namespace signet::server

#endif  // SIGNET_SERVER_KEY_MANAGER_H_
