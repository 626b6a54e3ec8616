"""The certificate authority and server certificate of the emulator's TLS listener (made with trustme).

The google-genai SDK only speaks TLS to a Live endpoint, so the emulator serves HTTPS/WSS with a
certificate from its own CA, whose PEM file clients trust explicitly
(``ssl.create_default_context(cafile=...)``). The CA and its key are kept in the state directory, so a
client that trusts the CA keeps trusting the emulator after a restart; the server certificate is
reissued from that CA when it has expired, does not cover every host, or was not issued by it.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from .state import write_private

_LOGGER = logging.getLogger(__name__)

# A reused server certificate must stay valid at least this long, or it is reissued at start.
_RENEW_BEFORE = datetime.timedelta(days=1)
_ORGANIZATION = "Gemini Live emulator"
_CA_NAME = "Gemini Live emulator CA"


@dataclass(frozen=True)
class TlsFiles:
    """Where the emulator's certificate material is."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    ca_key_file: Path

    @classmethod
    def in_directory(cls, directory: Path) -> TlsFiles:
        """The file names the emulator uses in its state directory."""
        return cls(
            directory / "ca.pem", directory / "server.pem", directory / "server-key.pem", directory / "ca-key.pem"
        )

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the listening socket."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts only this emulator's CA (what a client should use)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def create_tls_files(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """The CA and a server certificate for ``hosts`` (IP addresses or DNS names) in ``directory``.

    What is already there is reused: the CA (with its key) always, the server certificate while it is
    valid for a day more, covers ``hosts`` and was issued by that CA.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles.in_directory(directory)
    ca = _load_ca(files)
    if ca is None:
        ca = trustme.CA(organization_name=_ORGANIZATION, organization_unit_name=_CA_NAME)
        write_private(files.ca_key_file, ca.private_key_pem.bytes())
        files.ca_file.write_bytes(ca.cert_pem.bytes())
    elif _server_cert_usable(files, hosts):
        return files
    leaf = ca.issue_cert(*hosts, common_name=hosts[0], organization_name=_ORGANIZATION)
    write_private(files.key_file, leaf.private_key_pem.bytes())
    files.cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return files


def _load_ca(files: TlsFiles) -> trustme.CA | None:
    """The CA kept in the state directory, or None when there is none (or it cannot be read)."""
    if not files.ca_file.exists() or not files.ca_key_file.exists():
        return None
    try:
        return trustme.CA.from_pem(files.ca_file.read_bytes(), files.ca_key_file.read_bytes())
    except ValueError:
        _LOGGER.warning("Cannot read the CA in %s; making a new one", files.ca_file.parent)
        return None


def _server_cert_usable(files: TlsFiles, hosts: tuple[str, ...]) -> bool:
    """Whether the kept server certificate can be served again for ``hosts``."""
    if not files.cert_file.exists() or not files.key_file.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(files.ca_file.read_bytes()))
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature:
        return False
    if cert.not_valid_after_utc - _RENEW_BEFORE < datetime.datetime.now(datetime.UTC):
        _LOGGER.info("The server certificate expires at %s; issuing a new one", cert.not_valid_after_utc)
        return False
    covered = all(_covers(names, host) for host in hosts)
    if not covered:
        _LOGGER.info("The server certificate does not cover %s; issuing a new one", ", ".join(hosts))
    return covered


def _covers(names: x509.SubjectAlternativeName, host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.lower() in (name.lower() for name in names.get_values_for_type(x509.DNSName))
    return address in names.get_values_for_type(x509.IPAddress)
