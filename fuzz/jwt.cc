// Fuzzes JWT-SVID parsing and validation against a bundle holding one fixed
// P-256 key (kid "k1"; a fuzzing-only key, public in this file). Checks that
// a token which validates names the trust domain and audience asked for.
//
// Seeds: with SIGNET_JWT_SEED_DIR set, LLVMFuzzerInitialize writes validly
// signed tokens there (fuzz/corpus/jwt/ was made that way).
#include "common/jwt.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "common/bundle.h"
#include "common/keys.h"

namespace {

constexpr char kFuzzKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeFoy0lzdrESbkwOQ\n"
    "BhvJe2TNeIUlwhR6d3xlE7zP4U6hRANCAAQ0WnzuKqA/zmyzv5OjiwKI5MpmNfYl\n"
    "E1MXADYRuInB96UlTalivdXEiOM8dXYIHFa4o0NIOjcc3FE7FMArmg6W\n"
    "-----END PRIVATE KEY-----\n";

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

struct Fixture {
  signet::EvpPkeyPtr key;
  signet::BundleSet bundles;
};

const Fixture& GetFixture() {
  static const Fixture* f = [] {
    auto* fx = new Fixture;
    fx->key = *signet::ParsePrivateKeyPem(kFuzzKeyPem);
    signet::Bundle b(*signet::TrustDomain::FromString("example.org"));
    std::string spki = *signet::PublicKeyToDer(fx->key.get());
    b.AddJwtAuthority("k1", *signet::ParsePublicKeyDer(spki));
    fx->bundles.Put(std::move(b));
    return fx;
  }();
  return *f;
}

void WriteSeed(const std::string& dir, const std::string& name, const std::string& data) {
  FILE* f = fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) return;
  fwrite(data.data(), 1, data.size(), f);
  fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  const char* dir = getenv("SIGNET_JWT_SEED_DIR");
  if (dir == nullptr) return 0;
  const Fixture& fx = GetFixture();
  signet::JwtSvidParams p{*signet::SpiffeId::FromString("spiffe://example.org/wl"),
                          {"svc"},
                          kNow - absl::Minutes(1),
                          kNow + absl::Minutes(4),
                          ""};
  WriteSeed(dir, "valid", *signet::SignJwtSvid(fx.key.get(), "k1", p));
  p.audience = {"svc", "other"};
  p.issuer = "https://issuer.example.org";
  WriteSeed(dir, "valid_two_aud_iss", *signet::SignJwtSvid(fx.key.get(), "k1", p));
  WriteSeed(dir, "wrong_kid", *signet::SignJwtSvid(fx.key.get(), "k2", p));
  WriteSeed(
      dir, "no_exp",
      *signet::SignCompactJws(fx.key.get(), "ES256", R"({"alg":"ES256","kid":"k1","typ":"JWT"})",
                              R"({"sub":"spiffe://example.org/wl","aud":"svc"})"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string token(reinterpret_cast<const char*>(data), size);
  (void)signet::ParseJwtSvidInsecure(token, {"svc", "other"}, kNow);
  absl::StatusOr<signet::JwtSvid> v =
      signet::ValidateJwtSvid(token, GetFixture().bundles, "svc", kNow);
  if (v.ok()) {
    if (v->subject.trust_domain().name() != "example.org") abort();
    bool has_aud = false;
    for (const auto& a : v->audience) has_aud |= a == "svc";
    if (!has_aud || v->expires_at <= kNow - absl::Minutes(5)) abort();
  }
  return 0;
}
