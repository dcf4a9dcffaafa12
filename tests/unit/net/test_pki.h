// Certificates for the TLS tests, made when a test starts (no key material in the repository):
// a CA, certificates it signs for a server (for "localhost" and 127.0.0.1), an expired one, one
// for another host, a client certificate, and a second CA that signed none of them. PEM files
// in a temporary directory that goes with the object.
#pragma once

#include <string>

namespace longlink::net::testing {

struct TestPki {
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  std::string dir;
  std::string ca_cert;        // The CA that signs everything below.
  std::string other_ca_cert;  // A CA that signs nothing here.
  std::string server_cert;    // SAN DNS:localhost, IP:127.0.0.1; valid now.
  std::string server_key;
  std::string expired_cert;  // Like server_cert, expired yesterday.
  std::string expired_key;
  std::string wrong_host_cert;  // SAN DNS:db.example.com only.
  std::string wrong_host_key;
  std::string client_cert;  // For client authentication.
  std::string client_key;
  std::string not_pem;  // A text file that is not PEM.
};

}  // namespace longlink::net::testing
