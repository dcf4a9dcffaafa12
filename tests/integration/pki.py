"""A throwaway PKI for the TLS integration tests, made at test time with python3-cryptography.

make_pki(directory) writes PEM files into `directory` and returns a `Pki` holding their paths:

- `ca` (+ `ca_key`): the test CA, a self-signed root;
- `wrong_ca`: a second root that signed nothing the tests present (a client trusting only it
  fails to verify every certificate here);
- `server_cert`/`server_key`: signed by the CA for DNS "localhost" and IP 127.0.0.1 (SANs),
  CN "localhost", serverAuth;
- `wrong_host_cert`/`wrong_host_key`: signed by the CA for DNS "wrong.example" only;
- `expired_cert`/`expired_key`: signed by the CA for localhost/127.0.0.1, but its notAfter
  lies a day in the past;
- `client_cert`/`client_key`: signed by the CA, CN "longlink-test-client", clientAuth;
- `wrong_client_cert`/`wrong_client_key`: a client certificate signed by the wrong CA.

`issue(pki, directory, name, ...)` signs one more certificate with the CA (a server certificate
with another serial and CN, for a reload test). Keys are EC P-256 by default (instant to make;
`key_type="rsa"` gives RSA 2048): MariaDB 10.11 with OpenSSL 3, libmariadb and Python's ssl
take both. Private keys are written 0600, in PKCS#8 PEM without a passphrase.
"""
import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1",)
CLIENT_CN = "longlink-test-client"


@dataclass
class Issued:
    """One certificate signed by the test CA: its PEM files, serial and subject CN."""
    cert: str
    key: str
    serial: int
    common_name: str


@dataclass
class Pki:
    directory: str
    ca: str
    ca_key: str
    wrong_ca: str
    server_cert: str
    server_key: str
    server_serial: int
    wrong_host_cert: str
    wrong_host_key: str
    expired_cert: str
    expired_key: str
    client_cert: str
    client_key: str
    wrong_client_cert: str
    wrong_client_key: str
    key_type: str = "ec"


def _new_key(key_type):
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "longlink tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path, key):
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _make_ca(common_name, key_type):
    key = _new_key(key_type)
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _sign(ca_cert, ca_key, common_name, key_type, dns=(), ips=(), client=False, expired=False,
          serial=None):
    key = _new_key(key_type)
    now = datetime.datetime.now(datetime.timezone.utc)
    if expired:
        not_before, not_after = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
    else:
        not_before, not_after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=365)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common_name)).issuer_name(ca_cert.subject)
               .public_key(key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=key_type == "rsa",
                                            data_encipherment=False, key_agreement=False,
                                            key_cert_sign=False, crl_sign=False,
                                            encipher_only=False, decipher_only=False),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    names = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a))
                                              for a in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _store(directory, stem, cert, key):
    cert_path = os.path.join(directory, f"{stem}-cert.pem")
    key_path = os.path.join(directory, f"{stem}-key.pem")
    _write_cert(cert_path, cert)
    _write_key(key_path, key)
    return cert_path, key_path


def _load_ca(pki):
    with open(pki.ca, "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    with open(pki.ca_key, "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    return ca_cert, ca_key


def issue(pki, directory, stem, common_name="localhost", dns=SERVER_NAMES, ips=SERVER_IPS,
          client=False, serial=None):
    """Signs one more certificate with the test CA; writes STEM-cert.pem and STEM-key.pem into
    `directory` and returns an `Issued`."""
    ca_cert, ca_key = _load_ca(pki)
    cert, key = _sign(ca_cert, ca_key, common_name, pki.key_type, dns=dns, ips=ips,
                      client=client, serial=serial)
    cert_path, key_path = _store(directory, stem, cert, key)
    return Issued(cert_path, key_path, cert.serial_number, common_name)


def make_pki(directory, key_type="ec"):
    """Writes the whole test PKI into `directory` (created if missing) and returns a Pki."""
    os.makedirs(directory, exist_ok=True)
    ca_cert, ca_key = _make_ca("longlink test CA", key_type)
    wrong_cert, wrong_key = _make_ca("longlink wrong CA", key_type)
    ca_path, ca_key_path = _store(directory, "ca", ca_cert, ca_key)
    wrong_ca_path, _ = _store(directory, "wrong-ca", wrong_cert, wrong_key)

    server, server_key = _sign(ca_cert, ca_key, "localhost", key_type, dns=SERVER_NAMES,
                               ips=SERVER_IPS)
    wrong_host, wrong_host_key = _sign(ca_cert, ca_key, "wrong.example", key_type,
                                       dns=("wrong.example",))
    expired, expired_key = _sign(ca_cert, ca_key, "localhost", key_type, dns=SERVER_NAMES,
                                 ips=SERVER_IPS, expired=True)
    client, client_key = _sign(ca_cert, ca_key, CLIENT_CN, key_type, client=True)
    wrong_client, wrong_client_key = _sign(wrong_cert, wrong_key, CLIENT_CN, key_type,
                                           client=True)
    paths = {}
    for stem, cert, key in [("server", server, server_key),
                            ("wrong-host", wrong_host, wrong_host_key),
                            ("expired", expired, expired_key),
                            ("client", client, client_key),
                            ("wrong-client", wrong_client, wrong_client_key)]:
        paths[stem] = _store(directory, stem, cert, key)
    return Pki(directory=directory, ca=ca_path, ca_key=ca_key_path, wrong_ca=wrong_ca_path,
               server_cert=paths["server"][0], server_key=paths["server"][1],
               server_serial=server.serial_number,
               wrong_host_cert=paths["wrong-host"][0], wrong_host_key=paths["wrong-host"][1],
               expired_cert=paths["expired"][0], expired_key=paths["expired"][1],
               client_cert=paths["client"][0], client_key=paths["client"][1],
               wrong_client_cert=paths["wrong-client"][0],
               wrong_client_key=paths["wrong-client"][1], key_type=key_type)
