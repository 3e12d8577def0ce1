#include "server/key_manager.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace signet::server {
namespace {

absl::Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError("key name must be 1-128 characters");
  }
  for (char ch : name) {
    if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')) {
      return absl::InvalidArgumentError(absl::StrCat("invalid key name \"", name, "\""));
    }
  }
  return absl::OkStatus();
}

// DiskKeyManager stores keys as <dir>/<name>.pem and caches them.
class DiskKeyManager : public KeyManager {
 public:
  explicit DiskKeyManager(std::string dir) : dir_(std::move(dir)) {}

  absl::StatusOr<EvpPkeyPtr> GenerateKey(const std::string& name, KeyType type) override {
    RETURN_IF_ERROR(CheckName(name));
    ASSIGN_OR_RETURN(EvpPkeyPtr key, signet::GenerateKey(type));
    ASSIGN_OR_RETURN(std::string pem, PrivateKeyToPkcs8Pem(key.get()));
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(WriteFileAtomic(PathOf(name), pem, 0600));
    return key;
  }

  absl::StatusOr<EvpPkeyPtr> GetKey(const std::string& name) override {
    RETURN_IF_ERROR(CheckName(name));
    absl::MutexLock l(&mu_);
    std::string path = PathOf(name);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("key \"", name, "\" not found"));
      return absl::InternalError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
    }
    absl::StatusOr<std::string> pem = ReadOpenFile(fd, path, kMaxSmallFileBytes);
    close(fd);
    if (!pem.ok()) return absl::InternalError(pem.status().message());
    absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKeyPem(*pem);
    if (!key.ok()) {
      return absl::InternalError(
          absl::StrCat("key file ", path, " is invalid: ", key.status().message()));
    }
    return key;
  }

  std::string Location(const std::string& name) const override { return PathOf(name); }

  absl::Status DeleteKey(const std::string& name) override {
    RETURN_IF_ERROR(CheckName(name));
    absl::MutexLock l(&mu_);
    if (unlink(PathOf(name).c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(absl::StrCat("cannot remove key ", name, ": ", strerror(errno)));
    }
    return absl::OkStatus();
  }

 private:
  std::string PathOf(const std::string& name) const { return dir_ + "/" + name + ".pem"; }

  const std::string dir_;
  absl::Mutex mu_;
};

// MemoryKeyManager keeps PKCS#8 DER copies in a map.
class MemoryKeyManager : public KeyManager {
 public:
  absl::StatusOr<EvpPkeyPtr> GenerateKey(const std::string& name, KeyType type) override {
    RETURN_IF_ERROR(CheckName(name));
    ASSIGN_OR_RETURN(EvpPkeyPtr key, signet::GenerateKey(type));
    ASSIGN_OR_RETURN(std::string der, PrivateKeyToPkcs8Der(key.get()));
    absl::MutexLock l(&mu_);
    keys_[name] = std::move(der);
    return key;
  }
  absl::StatusOr<EvpPkeyPtr> GetKey(const std::string& name) override {
    absl::MutexLock l(&mu_);
    auto it = keys_.find(name);
    if (it == keys_.end()) return absl::NotFoundError(absl::StrCat("key \"", name, "\" not found"));
    return ParsePrivateKeyDer(it->second);
  }
  absl::Status DeleteKey(const std::string& name) override {
    absl::MutexLock l(&mu_);
    keys_.erase(name);
    return absl::OkStatus();
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = path.find('/', pos + 1);
    cur = path.substr(0, next);
    pos = next;
    if (cur.empty() || cur == "/" || cur == "." || cur == "..") continue;
    if (mkdir(cur.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("cannot create directory ", cur, ": ", strerror(errno)));
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InternalError(absl::StrCat(path, " is not a directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KeyManager>> NewDiskKeyManager(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  chmod(dir.c_str(), 0700);
  return std::unique_ptr<KeyManager>(new DiskKeyManager(dir));
}

absl::StatusOr<std::vector<std::string>> ListCaKeyFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return absl::InternalError(absl::StrCat("cannot read directory ", dir, ": ", strerror(errno)));
  }
  while (struct dirent* ent = readdir(d)) {
    absl::string_view n = ent->d_name;
    if ((absl::StartsWith(n, "x509-ca-") || absl::StartsWith(n, "jwt-key-")) &&
        absl::EndsWith(n, ".pem")) {
      out.push_back(absl::StrCat(dir, "/", n));
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<KeyManager> NewMemoryKeyManager() { return std::make_unique<MemoryKeyManager>(); }

}  // namespace signet::server
