// Tests for common/spiffe_id (checklist A1-A16).
#include "common/spiffe_id.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using ::testing::HasSubstr;

constexpr char kBadTdChar[] =
    "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and "
    "underscores";
constexpr char kBadPathChar[] =
    "path segment characters are limited to letters, numbers, dots, dashes, and underscores";
constexpr char kWrongScheme[] = "scheme is missing or invalid";
constexpr char kMissingTd[] = "trust domain is missing";
constexpr char kEmptySegment[] = "path cannot contain empty segments";
constexpr char kDotSegment[] = "path cannot contain dot segments";
constexpr char kTrailingSlash[] = "path cannot have a trailing slash";

struct BadIdCase {
  const char* rule;
  std::string input;
  const char* message;
};

void ExpectRejected(const BadIdCase& c) {
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(c.input);
  ASSERT_FALSE(id.ok()) << c.rule << ": accepted \"" << c.input << "\"";
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << c.rule << " " << c.input;
  EXPECT_EQ(id.status().message(), c.message) << c.rule << " " << c.input;
}

void ExpectAccepted(absl::string_view input, absl::string_view td, absl::string_view path) {
  absl::StatusOr<SpiffeId> id = SpiffeId::FromString(input);
  ASSERT_TRUE(id.ok()) << input << ": " << id.status();
  EXPECT_EQ(id->trust_domain().name(), td);
  EXPECT_EQ(id->path(), path);
  EXPECT_EQ(id->ToString(), input);
}

// A1: scheme must be exactly "spiffe://".
TEST(SpiffeIdTest, A1_RejectsWrongScheme) {
  for (const char* in : {"http://td/a", "spiffe:/td/a", "spiffe:td", "SPIFFE://td/a",
                         "Spiffe://td/a", "spiffe//td/a", "td/a", " spiffe://td/a"}) {
    ExpectRejected({"A1", in, kWrongScheme});
  }
}

TEST(SpiffeIdTest, RejectsEmpty) { ExpectRejected({"empty", "", "cannot be empty"}); }

// A2: query and fragment.
TEST(SpiffeIdTest, A2_RejectsQueryInPath) {
  ExpectRejected({"A2", "spiffe://td/a?x=1", kBadPathChar});
}
TEST(SpiffeIdTest, A2_RejectsFragmentInPath) {
  ExpectRejected({"A2", "spiffe://td/a#f", kBadPathChar});
}
TEST(SpiffeIdTest, A2_RejectsQueryAfterTrustDomain) {
  ExpectRejected({"A2", "spiffe://td?x", kBadTdChar});
  ExpectRejected({"A2", "spiffe://td#f", kBadTdChar});
}

// A3: empty trust domain.
TEST(SpiffeIdTest, A3_RejectsEmptyTrustDomain) {
  ExpectRejected({"A3", "spiffe://", kMissingTd});
  ExpectRejected({"A3", "spiffe:///a", kMissingTd});
  ExpectRejected({"A3", "spiffe:///", kMissingTd});
}

// A4: userinfo and port.
TEST(SpiffeIdTest, A4_RejectsUserinfo) {
  ExpectRejected({"A4", "spiffe://u@td/a", kBadTdChar});
  ExpectRejected({"A4", "spiffe://u:p@td/a", kBadTdChar});
}
TEST(SpiffeIdTest, A4_RejectsPort) {
  ExpectRejected({"A4", "spiffe://td:8080/a", kBadTdChar});
  ExpectRejected({"A4", "spiffe://td:8080", kBadTdChar});
}

// A5: lowercase, [a-z0-9.-_] only.
TEST(SpiffeIdTest, A5_RejectsUppercaseTrustDomain) {
  ExpectRejected({"A5", "spiffe://TD/a", kBadTdChar});
  ExpectRejected({"A5", "spiffe://Example.org/a", kBadTdChar});
}
TEST(SpiffeIdTest, A5_RejectsBadTrustDomainChars) {
  ExpectRejected({"A5", "spiffe://t$d/a", kBadTdChar});
  ExpectRejected({"A5", "spiffe://[::1]/a", kBadTdChar});
  ExpectRejected({"A5", "spiffe://t\xc3\xa9/a", kBadTdChar});
  ExpectRejected({"A5", "spiffe://t\x80/a", kBadTdChar});
  ExpectRejected({"A5", std::string("spiffe://t\0d/a", 15), kBadTdChar});
}

// A6: percent-encoding in the trust domain.
TEST(SpiffeIdTest, A6_RejectsPercentEncodedTrustDomain) {
  ExpectRejected({"A6", "spiffe://%62ad/a", kBadTdChar});
}

// A7: IP- or DNS-looking names are plain names.
TEST(SpiffeIdTest, A7_AcceptsIpLookingAndUnderscoreTrustDomains) {
  ExpectAccepted("spiffe://10.0.0.1/a", "10.0.0.1", "/a");
  ExpectAccepted("spiffe://a_b/a", "a_b", "/a");
  ExpectAccepted("spiffe://-.-_/a", "-.-_", "/a");
}

// A8: percent-encoding in the path.
TEST(SpiffeIdTest, A8_RejectsPercentEncodedPath) {
  ExpectRejected({"A8", "spiffe://td/%41", kBadPathChar});
}

// A9: empty segments.
TEST(SpiffeIdTest, A9_RejectsEmptySegments) {
  ExpectRejected({"A9", "spiffe://td//a", kEmptySegment});
  ExpectRejected({"A9", "spiffe://td/a//b", kEmptySegment});
  ExpectRejected({"A9", "spiffe://td//", kEmptySegment});
}

// A10: dot segments.
TEST(SpiffeIdTest, A10_RejectsDotSegments) {
  for (const char* in :
       {"spiffe://td/.", "spiffe://td/..", "spiffe://td/a/./b", "spiffe://td/a/../b",
        "spiffe://td/./a", "spiffe://td/a/..", "spiffe://td/a/."}) {
    ExpectRejected({"A10", in, kDotSegment});
  }
}
TEST(SpiffeIdTest, A10_AcceptsDotPrefixedSegments) {
  ExpectAccepted("spiffe://td/.a", "td", "/.a");
  ExpectAccepted("spiffe://td/..a", "td", "/..a");
  ExpectAccepted("spiffe://td/...", "td", "/...");
  ExpectAccepted("spiffe://td/a./b..", "td", "/a./b..");
}

// A11: trailing slash.
TEST(SpiffeIdTest, A11_RejectsTrailingSlash) {
  ExpectRejected({"A11", "spiffe://td/", kTrailingSlash});
  ExpectRejected({"A11", "spiffe://td/a/", kTrailingSlash});
}

// A12: segment characters.
TEST(SpiffeIdTest, A12_RejectsBadPathChars) {
  for (const char* in :
       {"spiffe://td/a b", "spiffe://td/a:b", "spiffe://td/a@b", "spiffe://td/a~b",
        "spiffe://td/a+b", "spiffe://td/\xc3\xa9", "spiffe://td/a\\b", "spiffe://td/a*b"}) {
    ExpectRejected({"A12", in, kBadPathChar});
  }
}
TEST(SpiffeIdTest, A12_AcceptsUppercasePath) {
  ExpectAccepted("spiffe://td/AZaz09.-_/X", "td", "/AZaz09.-_/X");
}

// A13: path is optional.
TEST(SpiffeIdTest, A13_AcceptsTrustDomainId) { ExpectAccepted("spiffe://td", "td", ""); }

// A14: length limits.
TEST(SpiffeIdTest, A14_Accepts2048ByteId) {
  std::string id = "spiffe://td/";
  id.append(kMaxSpiffeIdLength - id.size(), 'a');
  ASSERT_EQ(id.size(), 2048u);
  EXPECT_TRUE(SpiffeId::FromString(id).ok());
}
TEST(SpiffeIdTest, A14_Rejects2049ByteId) {
  std::string id = "spiffe://td/";
  id.append(kMaxSpiffeIdLength + 1 - id.size(), 'a');
  ASSERT_EQ(id.size(), 2049u);
  ExpectRejected({"A14", id, "SPIFFE ID is too long (2049 bytes; maximum 2048)"});
}
TEST(SpiffeIdTest, A14_Accepts255ByteTrustDomain) {
  std::string td(255, 'a');
  EXPECT_TRUE(SpiffeId::FromString("spiffe://" + td + "/a").ok());
  absl::StatusOr<TrustDomain> t = TrustDomain::FromString(td);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name(), td);
}
TEST(SpiffeIdTest, A14_Rejects256ByteTrustDomain) {
  std::string td(256, 'a');
  ExpectRejected(
      {"A14", "spiffe://" + td + "/a", "trust domain is too long (256 bytes; maximum 255)"});
  absl::StatusOr<TrustDomain> t = TrustDomain::FromString(td);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "trust domain is too long (256 bytes; maximum 255)");
}
TEST(SpiffeIdTest, A14_FromPartsRejectsTooLong) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("td");
  ASSERT_TRUE(td.ok());
  std::string path = "/" + std::string(2048 - 12, 'a');
  EXPECT_TRUE(SpiffeId::FromParts(*td, path).ok());
  absl::StatusOr<SpiffeId> id = SpiffeId::FromParts(*td, path + "a");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "SPIFFE ID is too long (2049 bytes; maximum 2048)");
}

// A15: path is case-sensitive.
TEST(SpiffeIdTest, A15_PathIsCaseSensitive) {
  absl::StatusOr<SpiffeId> upper = SpiffeId::FromString("spiffe://td/A");
  absl::StatusOr<SpiffeId> lower = SpiffeId::FromString("spiffe://td/a");
  ASSERT_TRUE(upper.ok());
  ASSERT_TRUE(lower.ok());
  EXPECT_NE(*upper, *lower);
  EXPECT_EQ(*lower, *SpiffeId::FromString("spiffe://td/a"));
}

// A16: the signing authority's ID is a trust-domain ID with no path.
TEST(SpiffeIdTest, A16_TrustDomainIdHasNoPath) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("example.org");
  ASSERT_TRUE(td.ok());
  absl::StatusOr<SpiffeId> id = SpiffeId::FromParts(*td, "");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ToString(), "spiffe://example.org");
  EXPECT_TRUE(id->IsMemberOf(*td));
  EXPECT_EQ(td->IdString(), "spiffe://example.org");
}

// Loop over all byte values in the trust domain: exactly [a-z0-9.-_] pass.
TEST(SpiffeIdTest, TrustDomainByteLoop) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool allowed =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    std::string td = std::string("x") + c + "y";
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString("spiffe://" + td + "/p");
    absl::StatusOr<TrustDomain> t = TrustDomain::FromString(td);
    if (allowed) {
      EXPECT_TRUE(id.ok()) << "byte " << b << ": " << id.status();
      EXPECT_TRUE(t.ok()) << "byte " << b << ": " << t.status();
    } else if (c == '/') {
      // "spiffe://x/y/p" is a valid ID with trust domain "x".
      ASSERT_TRUE(id.ok());
      EXPECT_EQ(id->trust_domain().name(), "x");
      EXPECT_FALSE(t.ok());
    } else {
      ASSERT_FALSE(id.ok()) << "byte " << b;
      EXPECT_EQ(id.status().message(), kBadTdChar) << "byte " << b;
      EXPECT_FALSE(t.ok()) << "byte " << b;
    }
  }
}

// Loop over all byte values in the path: exactly [a-zA-Z0-9.-_] pass.
TEST(SpiffeIdTest, PathByteLoop) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    absl::StatusOr<SpiffeId> id = SpiffeId::FromString(std::string("spiffe://td/x") + c + "y");
    if (allowed) {
      EXPECT_TRUE(id.ok()) << "byte " << b << ": " << id.status();
    } else if (c == '/') {
      EXPECT_TRUE(id.ok()) << "byte " << b << ": " << id.status();
    } else {
      ASSERT_FALSE(id.ok()) << "byte " << b;
      EXPECT_EQ(id.status().message(), kBadPathChar) << "byte " << b;
    }
  }
}

TEST(TrustDomainTest, AcceptsNameAndTrustDomainId) {
  for (const char* in : {"example.org", "spiffe://example.org"}) {
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(in);
    ASSERT_TRUE(td.ok()) << in << ": " << td.status();
    EXPECT_EQ(td->name(), "example.org");
  }
}
TEST(TrustDomainTest, RejectsIdWithPath) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("spiffe://td/path");
  ASSERT_FALSE(td.ok());
  EXPECT_EQ(td.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(td.status().message(), "trust domain ID must not have a path");
}
TEST(TrustDomainTest, RejectsEmpty) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("");
  ASSERT_FALSE(td.ok());
  EXPECT_EQ(td.status().message(), kMissingTd);
}
TEST(TrustDomainTest, RejectsBadScheme) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("spiffe:/td");
  ASSERT_FALSE(td.ok());
  EXPECT_EQ(td.status().message(), kWrongScheme);
}
TEST(TrustDomainTest, RejectsUppercaseAndBadChars) {
  for (const char* in : {"TD", "Example.org", "t$d", "%62ad", "td:80", "u@td", "td/a"}) {
    absl::StatusOr<TrustDomain> td = TrustDomain::FromString(in);
    ASSERT_FALSE(td.ok()) << in;
    EXPECT_EQ(td.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(td.status().message(), kBadTdChar) << in;
  }
}
TEST(TrustDomainTest, RejectsEmptyTrustDomainId) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("spiffe://");
  ASSERT_FALSE(td.ok());
  EXPECT_EQ(td.status().message(), kMissingTd);
}

TEST(ValidatePathTest, Vectors) {
  EXPECT_TRUE(ValidatePath("").ok());
  EXPECT_TRUE(ValidatePath("/a/b").ok());
  EXPECT_EQ(ValidatePath("a").message(), "path must have a leading slash");
  EXPECT_EQ(ValidatePath("/").message(), kTrailingSlash);
  EXPECT_EQ(ValidatePath("//").message(), kEmptySegment);
  EXPECT_EQ(ValidatePath("/a/..").message(), kDotSegment);
  EXPECT_THAT(std::string(ValidatePath("/a b").message()), HasSubstr("path segment characters"));
}

TEST(SpiffeIdTest, FromPartsValidatesPath) {
  absl::StatusOr<TrustDomain> td = TrustDomain::FromString("td");
  ASSERT_TRUE(td.ok());
  absl::StatusOr<SpiffeId> id = SpiffeId::FromParts(*td, "/a/b");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ToString(), "spiffe://td/a/b");
  absl::StatusOr<SpiffeId> bad = SpiffeId::FromParts(*td, "a");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "path must have a leading slash");
  EXPECT_EQ(SpiffeId::FromParts(*td, "/a/").status().message(), kTrailingSlash);
}

}  // namespace
}  // namespace signet
