// TlsContext: building contexts for both roles from certificates made at test time, the errors
// for missing, unreadable and mismatched files, version and cipher settings, the session
// cache, and replacing a context in a slot while connections hold the old one.
#include "net/tls_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "test_pki.h"

namespace longlink::net {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class TlsContextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new testing::TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static const testing::TestPki& pki() { return *pki_; }

  TlsServerSettings Server() const {
    TlsServerSettings settings;
    settings.cert_file = pki().server_cert;
    settings.key_file = pki().server_key;
    return settings;
  }

 private:
  static testing::TestPki* pki_;
};

testing::TestPki* TlsContextTest::pki_ = nullptr;

std::string ErrorOf(const Result<TlsContextPtr>& result) {
  return result.ok() ? "(no error)" : result.error().message;
}

TEST_F(TlsContextTest, ServerFromCertificateAndKey) {
  auto context = TlsContext::ForServer(Server());
  ASSERT_TRUE(context.ok()) << ErrorOf(context);
  EXPECT_EQ((*context)->role(), TlsContext::Role::kServer);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->native_handle()), TLS1_2_VERSION);
  EXPECT_FALSE((*context)->verifies_peer());
}

TEST_F(TlsContextTest, ServerNeedsCertificateAndKey) {
  TlsServerSettings settings;
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)), HasSubstr("certificate and a private key"));
}

TEST_F(TlsContextTest, MissingFilesAreNamed) {
  TlsServerSettings settings = Server();
  settings.cert_file = pki().dir + "/missing.pem";
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)),
              AllOf(HasSubstr("cannot read certificate " + settings.cert_file),
                    HasSubstr("No such file or directory")));
  settings = Server();
  settings.key_file = pki().dir + "/missing-key.pem";
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)),
              AllOf(HasSubstr("cannot read private key " + settings.key_file),
                    HasSubstr("No such file or directory")));
  TlsClientSettings client;
  client.ca_file = pki().dir + "/missing-ca.pem";
  EXPECT_THAT(ErrorOf(TlsContext::ForClient(client)),
              AllOf(HasSubstr("cannot read CA file " + client.ca_file),
                    HasSubstr("No such file or directory")));
}

TEST_F(TlsContextTest, UnreadablePemIsNamed) {
  TlsServerSettings settings = Server();
  settings.cert_file = pki().not_pem;
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)),
              HasSubstr("cannot load certificate " + pki().not_pem));
  settings = Server();
  settings.key_file = pki().not_pem;
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)),
              HasSubstr("cannot load private key " + pki().not_pem));
  settings = Server();
  settings.key_file = pki().server_cert;  // A certificate where the key should be.
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)),
              HasSubstr("cannot load private key " + pki().server_cert));
  TlsClientSettings client;
  client.ca_file = pki().not_pem;
  EXPECT_THAT(ErrorOf(TlsContext::ForClient(client)),
              HasSubstr("cannot load CA certificates from " + pki().not_pem));
}

TEST_F(TlsContextTest, KeyThatDoesNotMatchTheCertificate) {
  TlsServerSettings settings = Server();
  settings.key_file = pki().client_key;
  EXPECT_EQ(ErrorOf(TlsContext::ForServer(settings)), "the private key in " + pki().client_key +
                                                          " does not match the certificate in " +
                                                          pki().server_cert);
  TlsClientSettings client;
  client.ca_file = pki().ca_cert;
  client.cert_file = pki().client_cert;
  client.key_file = pki().server_key;
  EXPECT_THAT(ErrorOf(TlsContext::ForClient(client)), HasSubstr("does not match"));
  client.key_file = "";
  EXPECT_THAT(ErrorOf(TlsContext::ForClient(client)), HasSubstr("both a certificate and"));
}

TEST_F(TlsContextTest, ClientWithCaFileSystemStoreOrNoVerification) {
  TlsClientSettings settings;
  settings.ca_file = pki().ca_cert;
  auto with_ca = TlsContext::ForClient(settings);
  ASSERT_TRUE(with_ca.ok()) << ErrorOf(with_ca);
  EXPECT_TRUE((*with_ca)->verifies_peer());
  EXPECT_EQ(SSL_CTX_get_verify_mode((*with_ca)->native_handle()), SSL_VERIFY_PEER);

  auto system = TlsContext::ForClient(TlsClientSettings{});
  ASSERT_TRUE(system.ok()) << ErrorOf(system);
  EXPECT_TRUE((*system)->verifies_peer());

  settings.verify = false;
  auto unverified = TlsContext::ForClient(settings);
  ASSERT_TRUE(unverified.ok()) << ErrorOf(unverified);
  EXPECT_FALSE((*unverified)->verifies_peer());
  EXPECT_EQ(SSL_CTX_get_verify_mode((*unverified)->native_handle()), SSL_VERIFY_NONE);

  settings.verify = true;
  settings.cert_file = pki().client_cert;
  settings.key_file = pki().client_key;
  settings.min_version = TlsVersion::kTls1_3;
  auto with_certificate = TlsContext::ForClient(settings);
  ASSERT_TRUE(with_certificate.ok()) << ErrorOf(with_certificate);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*with_certificate)->native_handle()), TLS1_3_VERSION);
}

TEST_F(TlsContextTest, VersionsAndCiphers) {
  TlsServerSettings settings = Server();
  settings.ciphers = "NO-SUCH-CIPHER";
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)), HasSubstr("no usable cipher"));
  settings = Server();
  settings.ciphersuites = "TLS_NO_SUCH_SUITE";
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)), HasSubstr("TLS 1.3 ciphersuite"));
  settings = Server();
  settings.min_version = TlsVersion::kTls1_3;
  settings.max_version = TlsVersion::kTls1_2;
  EXPECT_THAT(ErrorOf(TlsContext::ForServer(settings)), HasSubstr("lower than the lowest"));
  settings = Server();
  settings.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  settings.ciphersuites = "TLS_AES_128_GCM_SHA256";
  settings.max_version = TlsVersion::kTls1_3;
  EXPECT_TRUE(TlsContext::ForServer(settings).ok());
}

TEST(TlsVersion, Parses) {
  EXPECT_EQ(ParseTlsVersion("TLSv1.2"), TlsVersion::kTls1_2);
  EXPECT_EQ(ParseTlsVersion("tlsv1.3"), TlsVersion::kTls1_3);
  EXPECT_EQ(ParseTlsVersion("1.1"), TlsVersion::kTls1_1);
  EXPECT_EQ(ParseTlsVersion("TLSv1"), TlsVersion::kTls1_0);
  EXPECT_EQ(ParseTlsVersion("SSLv3"), std::nullopt);
  EXPECT_EQ(ParseTlsVersion(""), std::nullopt);
  EXPECT_EQ(TlsVersionName(TlsVersion::kTls1_3), "TLSv1.3");
}

TEST_F(TlsContextTest, SessionCacheKeepsOnePerKeyAndDropsTheOldest) {
  TlsClientSettings settings;
  settings.ca_file = pki().ca_cert;
  settings.session_cache_size = 2;
  auto made = TlsContext::ForClient(settings);
  ASSERT_TRUE(made.ok()) << ErrorOf(made);
  const TlsContext& context = **made;
  EXPECT_EQ(context.TakeSession("a"), nullptr);
  SSL_SESSION* a = SSL_SESSION_new();
  SSL_SESSION* b = SSL_SESSION_new();
  SSL_SESSION* c = SSL_SESSION_new();
  SSL_SESSION* a2 = SSL_SESSION_new();
  context.KeepSession("a", a);
  context.KeepSession("b", b);
  SSL_SESSION* taken = context.TakeSession("a");
  EXPECT_EQ(taken, a);
  SSL_SESSION_free(taken);
  context.KeepSession("a", a2);  // Replaces a; a is now the newest key.
  taken = context.TakeSession("a");
  EXPECT_EQ(taken, a2);
  SSL_SESSION_free(taken);
  context.KeepSession("c", c);  // Full: b, the oldest, goes.
  EXPECT_EQ(context.TakeSession("b"), nullptr);
  context.ForgetSession("c");
  EXPECT_EQ(context.TakeSession("c"), nullptr);
  taken = context.TakeSession("a");
  EXPECT_EQ(taken, a2);
  SSL_SESSION_free(taken);
}

TEST_F(TlsContextTest, SlotReplacesWhileHoldersKeepTheOld) {
  TlsContextSlot slot;
  EXPECT_EQ(slot.Current(), nullptr);  // TLS off.
  auto first = TlsContext::ForServer(Server());
  ASSERT_TRUE(first.ok());
  slot.Replace(*first);
  TlsContextPtr held = slot.Current();  // A connection that started now.
  const TlsContext* old_address = held.get();
  first = Error{"dropped"};
  auto second = TlsContext::ForServer(Server());
  ASSERT_TRUE(second.ok());
  slot.Replace(*second);
  EXPECT_EQ(slot.Current().get(), second->get());
  EXPECT_EQ(held.get(), old_address);
  EXPECT_EQ(held->role(), TlsContext::Role::kServer);  // Still alive and usable.
}

}  // namespace
}  // namespace longlink::net
