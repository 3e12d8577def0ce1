#include "client/authorizer.h"

#include "gtest/gtest.h"

namespace signet::client {
namespace {

SpiffeId Id(const char* s) { return *SpiffeId::FromString(s); }

TEST(AuthorizerTest, AnyAcceptsEveryone) {
  EXPECT_TRUE(AuthorizeAny()(Id("spiffe://a.org/x")).ok());
  EXPECT_TRUE(AuthorizeAny()(Id("spiffe://b.org/y")).ok());
}

TEST(AuthorizerTest, IdAcceptsExactId) {
  Authorizer a = AuthorizeId(Id("spiffe://example.org/web"));
  EXPECT_TRUE(a(Id("spiffe://example.org/web")).ok());
}

TEST(AuthorizerTest, IdRefusesOtherId) {
  absl::Status s = AuthorizeId(Id("spiffe://example.org/web"))(Id("spiffe://example.org/Web"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "unexpected ID \"spiffe://example.org/Web\"");
}

TEST(AuthorizerTest, OneOfAcceptsMembers) {
  Authorizer a = AuthorizeOneOf({Id("spiffe://example.org/a"), Id("spiffe://other.org/b")});
  EXPECT_TRUE(a(Id("spiffe://example.org/a")).ok());
  EXPECT_TRUE(a(Id("spiffe://other.org/b")).ok());
}

TEST(AuthorizerTest, OneOfRefusesOthers) {
  Authorizer a = AuthorizeOneOf({Id("spiffe://example.org/a"), Id("spiffe://other.org/b")});
  absl::Status s = a(Id("spiffe://example.org/b"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "unexpected ID \"spiffe://example.org/b\"");
  EXPECT_EQ(AuthorizeOneOf({})(Id("spiffe://example.org/a")).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AuthorizerTest, MemberOfAcceptsTrustDomainMembers) {
  Authorizer a = AuthorizeMemberOf(*TrustDomain::FromString("example.org"));
  EXPECT_TRUE(a(Id("spiffe://example.org/a/b")).ok());
}

TEST(AuthorizerTest, MemberOfRefusesOtherTrustDomain) {
  Authorizer a = AuthorizeMemberOf(*TrustDomain::FromString("example.org"));
  absl::Status s = a(Id("spiffe://example.org.evil/a"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "unexpected trust domain \"example.org.evil\"");
}

TEST(AuthorizerTest, IfFollowsPredicate) {
  Authorizer a =
      AuthorizeIf([](const SpiffeId& id) { return id.path().rfind("/ns/prod/", 0) == 0; });
  EXPECT_TRUE(a(Id("spiffe://example.org/ns/prod/web")).ok());
  absl::Status s = a(Id("spiffe://example.org/ns/dev/web"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "unauthorized ID \"spiffe://example.org/ns/dev/web\"");
}

}  // namespace
}  // namespace signet::client
