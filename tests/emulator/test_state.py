"""The state directory: the CA, the server certificate, the service account and the API key across runs.

Certificates are checked the way clients check them: a real TLS handshake on loopback against the CA.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import requests
import trustme
from gemini_live_emulator import Emulator, EmulatorConfig
from gemini_live_emulator.tls import TlsFiles, create_tls_files
from google.auth.transport.requests import Request
from google.oauth2 import service_account

HOSTS = ("127.0.0.1", "localhost")


def contents(files: TlsFiles) -> dict[str, bytes]:
    """What the certificate files hold."""
    paths = (files.ca_file, files.ca_key_file, files.cert_file, files.key_file)
    return {path.name: path.read_bytes() for path in paths}


async def handshake(files: TlsFiles, server_hostname: str) -> None:
    """A TLS connection to a server presenting ``files``' certificate, by a client trusting only the CA."""

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=files.server_context())
    async with server:
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=files.client_context(), server_hostname=server_hostname
        )
        writer.close()


def issue_into(files: TlsFiles, ca: trustme.CA, **options: dt.datetime) -> None:
    """Put a server certificate from ``ca`` in place of the emulator's."""
    leaf = ca.issue_cert(*HOSTS, **options)
    files.cert_file.write_bytes(leaf.cert_chain_pems[0].bytes())
    files.key_file.write_bytes(leaf.private_key_pem.bytes())


async def test_the_ca_and_the_server_certificate_are_kept(tmp_path: Path) -> None:
    """A second start finds everything in place and changes nothing."""
    files = await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    first = await asyncio.to_thread(contents, files)
    again = await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    assert again == files
    assert await asyncio.to_thread(contents, again) == first
    for host in HOSTS:
        await handshake(files, host)


async def test_a_server_certificate_missing_a_host_is_reissued_by_the_same_ca(tmp_path: Path) -> None:
    """Listening on another address: a certificate that covers it, from the CA clients already trust."""
    first = await asyncio.to_thread(contents, await asyncio.to_thread(create_tls_files, tmp_path, HOSTS))
    files = await asyncio.to_thread(create_tls_files, tmp_path, ("127.0.0.2", *HOSTS))
    now = await asyncio.to_thread(contents, files)
    assert now["ca.pem"] == first["ca.pem"]
    assert now["server.pem"] != first["server.pem"]
    for host in ("127.0.0.2", *HOSTS):
        await handshake(files, host)


async def test_an_expired_server_certificate_is_reissued(tmp_path: Path) -> None:
    """A certificate past (or a day from) its end is replaced at start."""
    files = await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    ca_pem, ca_key_pem = await asyncio.to_thread(lambda: (files.ca_file.read_bytes(), files.ca_key_file.read_bytes()))
    now = dt.datetime.now(dt.UTC)
    expiring_soon = {"not_before": now - dt.timedelta(days=30), "not_after": now + dt.timedelta(hours=1)}
    await asyncio.to_thread(issue_into, files, trustme.CA.from_pem(ca_pem, ca_key_pem), **expiring_soon)
    expiring = await asyncio.to_thread(contents, files)
    await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    renewed = await asyncio.to_thread(contents, files)
    assert renewed["server.pem"] != expiring["server.pem"]
    assert renewed["ca.pem"] == expiring["ca.pem"]
    await handshake(files, "127.0.0.1")


async def test_a_server_certificate_from_another_ca_is_reissued(tmp_path: Path) -> None:
    """The server certificate must chain to the CA in the same directory."""
    files = await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    await asyncio.to_thread(issue_into, files, trustme.CA())
    await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    await handshake(files, "localhost")


async def test_a_ca_without_its_key_is_replaced(tmp_path: Path) -> None:
    """Without the CA's key no certificate can be issued: a new CA, and a certificate from it."""
    files = await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    first = await asyncio.to_thread(contents, files)
    await asyncio.to_thread(files.ca_key_file.unlink)
    await asyncio.to_thread(create_tls_files, tmp_path, HOSTS)
    assert (await asyncio.to_thread(contents, files))["ca.pem"] != first["ca.pem"]
    await handshake(files, "127.0.0.1")


def refresh(key_file: str, ca_file: str) -> service_account.Credentials:
    """google-auth trades the service account's signed JWT for an access token at the key file's token_uri."""
    credentials = service_account.Credentials.from_service_account_file(
        key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    with requests.Session() as session:
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides verify
        session.verify = ca_file
        credentials.refresh(Request(session))
    return credentials


def read_json(path: str) -> dict[str, str]:
    """A JSON file's content."""
    content: dict[str, str] = json.loads(Path(path).read_text(encoding="utf-8"))
    return content


async def test_the_emulator_keeps_its_api_key_and_service_account(
    emulator_config: EmulatorConfig, tmp_path: Path
) -> None:
    """Across runs: the same minted API key and service account; token_uri follows the new address."""
    async with Emulator(emulator_config, state_dir=tmp_path) as first:
        key, account = first.api_key, await asyncio.to_thread(read_json, first.service_account_file)
        assert (await asyncio.to_thread((tmp_path / "api-key").read_text)).strip() == key
    async with Emulator(emulator_config, state_dir=tmp_path) as second:
        assert second.api_key == key
        assert second.credentials.api_keys == {key}
        kept = await asyncio.to_thread(read_json, second.service_account_file)
        assert kept == {**account, "token_uri": second.base_url + "/token"}
        credentials = await asyncio.to_thread(refresh, second.service_account_file, second.ca_file)
        assert credentials.token is not None
        assert second.credentials.access_token_valid(credentials.token)


async def test_configured_api_keys_are_not_stored(emulator_config: EmulatorConfig, tmp_path: Path) -> None:
    """``--api-key`` keys are the caller's: none is minted, nothing is written for them."""
    emulator_config.api_keys = ("AIza-configured",)
    async with Emulator(emulator_config, state_dir=tmp_path) as emulator:
        assert emulator.api_key == "AIza-configured"
        assert emulator.credentials.api_keys == {"AIza-configured"}
    assert not await asyncio.to_thread((tmp_path / "api-key").exists)
