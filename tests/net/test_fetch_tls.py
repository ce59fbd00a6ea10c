"""HTTPS through the guarded transport: the socket goes to the checked address,
while SNI and the certificate check still use the URL's host name."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fetch_helpers import PNG, Sleeps, Tripwire

from img2img.errors import FetchError
from img2img.net.fetch import HttpFetcher

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl tool")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA and a server certificate for ``images.test``."""
    folder = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=img2img test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign",
        cwd=folder,
    )  # fmt: skip
    openssl(
        "req",
        *ec,
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=images.test",
        cwd=folder,
    )
    (folder / "ext.cnf").write_text(
        "subjectAltName=DNS:images.test\nextendedKeyUsage=serverAuth\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
        cwd=folder,
    )  # fmt: skip
    return folder


@pytest.fixture
def https_port(pki: Path) -> Iterator[tuple[int, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 presenting the ``images.test`` certificate; records SNI."""
    names: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")

    def record_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], names
    server.shutdown()
    server.server_close()


def client_context(pki: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki / "ca.pem"))


def test_https_connects_to_the_checked_address_with_the_urls_name(
    pki: Path, https_port: tuple[int, list[str | None]]
) -> None:
    port, names = https_port
    resolver = Tripwire({"images.test": ["127.0.0.1"]})
    with HttpFetcher(
        allowed_networks=["127.0.0.1/32"], resolver=resolver, verify=client_context(pki)
    ) as fetcher:
        assert fetcher.fetch(f"https://images.test:{port}/a.png") == PNG
    assert resolver.asked == ["images.test"]
    assert names == ["images.test"]


def test_a_certificate_for_another_name_is_refused_without_retries(
    pki: Path, https_port: tuple[int, list[str | None]]
) -> None:
    port, names = https_port
    sleeps = Sleeps()
    resolver = Tripwire({"other.test": ["127.0.0.1"]})
    with HttpFetcher(
        allowed_networks=["127.0.0.1/32"],
        resolver=resolver,
        verify=client_context(pki),
        sleep=sleeps,
    ) as fetcher:
        with pytest.raises(FetchError, match="TLS failed"):
            fetcher.fetch(f"https://other.test:{port}/a.png")
        with pytest.raises(FetchError, match="TLS failed"):
            fetcher.fetch(f"https://127.0.0.1:{port}/a.png")
    assert sleeps == []
    assert names == ["other.test", None]  # no SNI is sent for an IP address


def test_an_unknown_ca_is_refused(https_port: tuple[int, list[str | None]]) -> None:
    port, _ = https_port
    resolver = Tripwire({"images.test": ["127.0.0.1"]})
    with (
        HttpFetcher(allowed_networks=["127.0.0.1/32"], resolver=resolver) as fetcher,
        pytest.raises(FetchError, match="TLS failed"),
    ):
        fetcher.fetch(f"https://images.test:{port}/a.png")
