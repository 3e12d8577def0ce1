// Tests for common/log: formats, levels, escaping, and key redaction.
#include "common/log.h"

#include <fcntl.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// LogCapture points the logger at a fresh temp file and reads it back.
class LogCapture {
 public:
  explicit LogCapture(const char* format, const char* level = "debug") {
    char tmpl[] = "/tmp/sg-log-XXXXXX";
    fd_ = mkstemp(tmpl);
    path_ = tmpl;
    EXPECT_TRUE(Logger::Configure(level, format, fd_));
  }
  ~LogCapture() {
    Logger::Configure("info", "text", 2);
    close(fd_);
    unlink(path_.c_str());
  }
  std::string Contents() const {
    std::string out;
    char buf[4096];
    off_t off = 0;
    for (;;) {
      ssize_t n = pread(fd_, buf, sizeof(buf), off);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return out;
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines = absl::StrSplit(Contents(), '\n', absl::SkipEmpty());
    return lines;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// ParseJson parses one JSON log line into a Struct (fails the test if it is
// not valid JSON).
google::protobuf::Struct ParseJson(const std::string& line) {
  google::protobuf::Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(line, &s);
  EXPECT_TRUE(st.ok()) << st.ToString() << " in: " << line;
  return s;
}

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

// KeyMaterial holds one generated key in the encodings a caller might log.
struct KeyMaterial {
  std::string pem;          // PKCS#8 PEM
  std::string der;          // PKCS#8 DER
  std::string b64;          // PKCS#8 DER, standard base64 on one line
  std::string traditional;  // SEC1 / PKCS#1 DER
};

KeyMaterial MakeKey(bool rsa) {
  std::unique_ptr<EVP_PKEY, EvpPkeyDeleter> key(rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
  EXPECT_NE(key, nullptr);
  KeyMaterial km;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
            1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  km.pem.assign(data, static_cast<size_t>(len));
  // The PEM body is the PKCS#8 DER.
  std::string body;
  for (absl::string_view line : absl::StrSplit(km.pem, '\n')) {
    if (!line.empty() && line[0] != '-') body.append(line.data(), line.size());
  }
  km.b64 = body;
  EXPECT_TRUE(absl::Base64Unescape(body, &km.der));
  unsigned char* trad = nullptr;
  int tlen = i2d_PrivateKey(key.get(), &trad);
  EXPECT_GT(tlen, 0);
  km.traditional.assign(reinterpret_cast<char*>(trad), static_cast<size_t>(tlen));
  OPENSSL_free(trad);
  return km;
}

// Distinctive chunk of key material that must never appear in output.
std::string Secret(const KeyMaterial& km) { return km.b64.substr(20, 40); }

TEST(RedactTest, PemPrivateKeys) {
  for (bool rsa : {false, true}) {
    KeyMaterial km = MakeKey(rsa);
    EXPECT_EQ(Redact(km.pem), "[REDACTED]");
    EXPECT_EQ(Redact("key is " + km.pem + " ok"), "[REDACTED]");
    EXPECT_EQ(Redact("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"),
              "[REDACTED]");
    EXPECT_EQ(Redact("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "[REDACTED]");
  }
}

TEST(RedactTest, DerPrivateKeys) {
  for (bool rsa : {false, true}) {
    KeyMaterial km = MakeKey(rsa);
    EXPECT_EQ(Redact(km.der), "[REDACTED]") << (rsa ? "rsa" : "ec");
    EXPECT_EQ(Redact(km.traditional), "[REDACTED]") << (rsa ? "rsa" : "ec");
  }
}

TEST(RedactTest, Base64PrivateKeys) {
  for (bool rsa : {false, true}) {
    KeyMaterial km = MakeKey(rsa);
    EXPECT_EQ(Redact(km.b64), "[REDACTED]");
    EXPECT_EQ(Redact("key=" + km.b64), "[REDACTED]");
    EXPECT_EQ(Redact(absl::WebSafeBase64Escape(km.der)), "[REDACTED]");
    EXPECT_EQ(Redact(absl::Base64Escape(km.traditional)), "[REDACTED]");
    // First line of a PEM body without its armor.
    EXPECT_EQ(Redact(km.b64.substr(0, 64)), "[REDACTED]");
  }
}

TEST(RedactTest, PrivateJwk) {
  EXPECT_EQ(Redact(R"({"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"})"), "[REDACTED]");
  EXPECT_EQ(Redact(R"({"kty":"EC","crv":"P-256","x":"a","y":"b"})"),
            R"({"kty":"EC","crv":"P-256","x":"a","y":"b"})");
}

TEST(RedactTest, LeavesOrdinaryValues) {
  for (const std::string& v :
       {std::string("spiffe://example.org/workload"), std::string("-----BEGIN CERTIFICATE-----"),
        std::string(""), std::string("hello world"), std::string(200, 'A'),
        absl::Base64Escape(std::string(100, 'x'))}) {
    EXPECT_EQ(Redact(v), v);
  }
}

TEST(LoggerTest, ConfigureRejectsUnknownNames) {
  EXPECT_FALSE(Logger::Configure("verbose", "text", 2));
  EXPECT_FALSE(Logger::Configure("info", "xml", 2));
  EXPECT_TRUE(Logger::Configure("WARN", "JSON", 2));
  EXPECT_EQ(Logger::level(), LogLevel::kWarn);
  EXPECT_TRUE(Logger::Configure("info", "text", 2));
  EXPECT_EQ(Logger::level(), LogLevel::kInfo);
}

TEST(LoggerTest, TextFormat) {
  LogCapture cap("text");
  LogInfo("agent started", {{"socket", "/tmp/a.sock"}, {"note", "two words"}, {"empty", ""}});
  std::vector<std::string> lines = cap.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z INFO agent started "
                                     "socket=/tmp/a.sock note=\"two words\" empty=\"\""));
}

TEST(LoggerTest, TextEscapesNewlinesAndQuotes) {
  LogCapture cap("text");
  LogWarn("line1\nline2", {{"k", "a\"b\nc"}});
  std::vector<std::string> lines = cap.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr(" WARN line1\\nline2 k=\"a\\\"b\\nc\""));
}

TEST(LoggerTest, JsonFormat) {
  LogCapture cap("json");
  LogError("failed \"x\"\n", {{"error", "tab\there"},
                              {"ctl", std::string("\x01\x7f", 2)},
                              {"utf8", "caf\xc3\xa9"},
                              {"bad", "\xff\xc3"},
                              {"msg", "shadow"}});
  std::vector<std::string> lines = cap.Lines();
  ASSERT_EQ(lines.size(), 1u);
  google::protobuf::Struct s = ParseJson(lines[0]);
  EXPECT_EQ(s.fields().at("level").string_value(), "error");
  EXPECT_EQ(s.fields().at("msg").string_value(), "failed \"x\"\n");
  EXPECT_EQ(s.fields().at("error").string_value(), "tab\there");
  EXPECT_EQ(s.fields().at("ctl").string_value(), std::string("\x01\x7f", 2));
  EXPECT_EQ(s.fields().at("utf8").string_value(), "caf\xc3\xa9");
  EXPECT_EQ(s.fields().at("bad").string_value(), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(s.fields().at("field.msg").string_value(), "shadow");
  EXPECT_FALSE(s.fields().at("time").string_value().empty());
  EXPECT_THAT(lines[0], MatchesRegex("\\{\"time\":\"[^\"]+\",\"level\":\"error\",\"msg\":.*"));
}

TEST(LoggerTest, LevelFiltering) {
  LogCapture cap("text", "warn");
  LogDebug("d");
  LogInfo("i");
  LogWarn("w");
  LogError("e");
  std::vector<std::string> lines = cap.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr(" WARN w"));
  EXPECT_THAT(lines[1], HasSubstr(" ERROR e"));
  Logger::SetLevel(LogLevel::kDebug);
  LogDebug("d2");
  EXPECT_THAT(cap.Contents(), HasSubstr(" DEBUG d2"));
}

TEST(LoggerTest, PrivateKeyNeverReachesOutput) {
  for (const char* format : {"text", "json"}) {
    for (bool rsa : {false, true}) {
      KeyMaterial km = MakeKey(rsa);
      LogCapture cap(format);
      LogInfo(km.pem);
      LogInfo("loaded key", {{"key", km.pem}, {"der", km.der}, {"b64", km.b64}});
      LogInfo("key: " + km.b64);
      LogInfo(km.der);
      const std::string out = cap.Contents();
      EXPECT_THAT(out, Not(HasSubstr("PRIVATE KEY"))) << format;
      EXPECT_THAT(out, Not(HasSubstr(Secret(km)))) << format;
      EXPECT_THAT(out, Not(HasSubstr(km.b64.substr(0, 30)))) << format;
      EXPECT_THAT(out, HasSubstr("[REDACTED]"));
      EXPECT_EQ(cap.Lines().size(), 4u);
    }
  }
}

TEST(LoggerTest, ConcurrentLinesAreIntact) {
  LogCapture cap("json");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        LogInfo("concurrent", {{"t", absl::StrCat(t)}, {"pad", std::string(500, 'a' + t)}});
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::vector<std::string> lines = cap.Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const std::string& line : lines) {
    google::protobuf::Struct s = ParseJson(line);
    const int t = std::stoi(s.fields().at("t").string_value());
    EXPECT_EQ(s.fields().at("pad").string_value(), std::string(500, 'a' + t));
  }
}

}  // namespace
TEST(TruncateForLogTest, KeepsShortAndCutsLongValues) {
  EXPECT_EQ(TruncateForLog("abc", 3), "abc");
  EXPECT_EQ(TruncateForLog("abcdef", 3), "abc...(6 bytes)");
  // Never cuts inside a UTF-8 character: "\xc3\xa9" is one.
  EXPECT_EQ(TruncateForLog("a\xc3\xa9z", 2), "a...(4 bytes)");
}

TEST(LoggerTest, LongValuesAreCutInTextAndJson) {
  const std::string big(3 << 20, 'x');
  for (const char* format : {"text", "json"}) {
    LogCapture cap(format);
    LogWarn(big, {{"audience", big}});
    std::vector<std::string> lines = cap.Lines();
    ASSERT_EQ(lines.size(), 1u) << format;
    EXPECT_LT(lines[0].size(), 2 * kMaxLogValueBytes + 200) << format;
    EXPECT_THAT(lines[0], HasSubstr(absl::StrCat(std::string(16, 'x'), "...(3145728 bytes)")))
        << format;
  }
}

}  // namespace signet
