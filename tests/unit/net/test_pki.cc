#include "test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace longlink::net::testing {

namespace {

struct Issued {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  ~Issued() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  Check(extension != nullptr && X509_add_ext(cert, extension, -1) == 1, "extension");
  X509_EXTENSION_free(extension);
}

// A certificate for a new P-256 key, valid from `from` to `to` seconds from now, signed by
// `issuer` (itself when null).
void Issue(Issued& out, const char* common_name, const Issued* issuer, long from, long to, bool ca,
           const char* san, const char* usage) {
  static long serial = 1;
  out.key = EVP_EC_gen("P-256");
  Check(out.key != nullptr, "key");
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), from);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), to);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("longlink tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(issuer_cert));
  AddExtension(out.cert, issuer_cert, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  AddExtension(out.cert, issuer_cert, NID_key_usage,
               ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (san != nullptr) AddExtension(out.cert, issuer_cert, NID_subject_alt_name, san);
  if (usage != nullptr) AddExtension(out.cert, issuer_cert, NID_ext_key_usage, usage);
  Check(X509_sign(out.cert, issuer ? issuer->key : out.key, EVP_sha256()) > 0, "sign");
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  Check(file != nullptr, "open");
  if (cert != nullptr) Check(PEM_write_X509(file, cert) == 1, "write certificate");
  if (key != nullptr) {
    Check(PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "write key");
  }
  std::fclose(file);
}

}  // namespace

TestPki::TestPki() {
  char pattern[] = "/tmp/longlink-tls-XXXXXX";
  Check(::mkdtemp(pattern) != nullptr, "mkdtemp");
  dir = pattern;
  const long kDay = 24 * 60 * 60;
  Issued ca;
  Issued other_ca;
  Issued server;
  Issued expired;
  Issued wrong_host;
  Issued client;
  Issue(ca, "longlink test CA", nullptr, -kDay, 30 * kDay, true, nullptr, nullptr);
  Issue(other_ca, "another CA", nullptr, -kDay, 30 * kDay, true, nullptr, nullptr);
  Issue(server, "localhost", &ca, -kDay, 30 * kDay, false, "DNS:localhost,IP:127.0.0.1",
        "serverAuth");
  Issue(expired, "localhost", &ca, -3 * kDay, -kDay, false, "DNS:localhost,IP:127.0.0.1",
        "serverAuth");
  Issue(wrong_host, "db.example.com", &ca, -kDay, 30 * kDay, false, "DNS:db.example.com",
        "serverAuth");
  Issue(client, "proxy", &ca, -kDay, 30 * kDay, false, nullptr, "clientAuth");
  auto path = [&](const char* name) { return dir + "/" + name; };
  WritePem(ca_cert = path("ca.pem"), ca.cert, nullptr);
  WritePem(other_ca_cert = path("other-ca.pem"), other_ca.cert, nullptr);
  WritePem(server_cert = path("server.pem"), server.cert, nullptr);
  WritePem(server_key = path("server-key.pem"), nullptr, server.key);
  WritePem(expired_cert = path("expired.pem"), expired.cert, nullptr);
  WritePem(expired_key = path("expired-key.pem"), nullptr, expired.key);
  WritePem(wrong_host_cert = path("wrong-host.pem"), wrong_host.cert, nullptr);
  WritePem(wrong_host_key = path("wrong-host-key.pem"), nullptr, wrong_host.key);
  WritePem(client_cert = path("client.pem"), client.cert, nullptr);
  WritePem(client_key = path("client-key.pem"), nullptr, client.key);
  not_pem = path("not-pem.txt");
  std::FILE* file = std::fopen(not_pem.c_str(), "w");
  Check(file != nullptr, "open");
  std::fputs("this is not a certificate\n", file);
  std::fclose(file);
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace longlink::net::testing
