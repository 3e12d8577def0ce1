#include "common/openssl_util.h"

#include <openssl/err.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(OpensslErrorTest, DrainsQueueIntoOneMessage) {
  ClearOpensslErrors();
  // Two failures leave two entries on the queue.
  const unsigned char junk[] = {0x30, 0x03, 0x01, 0x02};
  const unsigned char* p = junk;
  EXPECT_EQ(d2i_X509(nullptr, &p, sizeof(junk)), nullptr);
  ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
  absl::Status s = OpensslError("parsing", absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), StartsWith("parsing: error:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("; error:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("cert already in hash table"));
  EXPECT_EQ(ERR_peek_error(), 0u) << "queue must be drained";
}

TEST(OpensslErrorTest, DefaultCodeIsInternal) {
  ClearOpensslErrors();
  ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
  absl::Status s = OpensslError("ctx");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
}

TEST(OpensslErrorTest, EmptyQueueStillGivesError) {
  ClearOpensslErrors();
  absl::Status s = OpensslError("nothing");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "nothing: unknown OpenSSL error");
}

TEST(OpensslErrorTest, ClearEmptiesQueue) {
  ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
  ClearOpensslErrors();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(OpensslPtrTest, OwnersFreeObjects) {
  // Run under ASan/LSan these would report leaks if the deleters were wrong.
  X509Ptr cert(X509_new());
  ASSERT_NE(cert, nullptr);
  X509StackPtr stack(sk_X509_new_null());
  ASSERT_NE(stack, nullptr);
  X509_up_ref(cert.get());
  ASSERT_GT(sk_X509_push(stack.get(), cert.get()), 0);
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_NE(bio, nullptr);
  BignumPtr bn(BN_new());
  ASSERT_NE(bn, nullptr);
  X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  ASSERT_NE(exts, nullptr);
  OpensslBytesPtr bytes(static_cast<unsigned char*>(OPENSSL_malloc(4)));
  ASSERT_NE(bytes, nullptr);
}

}  // namespace
}  // namespace signet
