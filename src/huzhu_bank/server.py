"""Serve the bank over mutual TLS with uvicorn.

The TLS layer requires a client certificate signed by the bank's CA (``ssl_cert_reqs=CERT_REQUIRED``):
a client without one never completes the handshake. uvicorn does not pass the peer certificate to
the application, so :class:`PeerCertProtocol` (uvicorn's h11 protocol) reads it from the connection
and hands it over in the ASGI TLS extension (``scope["extensions"]["tls"]``: ``client_cert_chain``
with the PEM, plus ``client_cert_sha256``), from which the API records who sent each instruction.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from uvicorn.protocols.http.h11_impl import H11Protocol

from huzhu.clock import Clock
from huzhu_bank.api import create_app
from huzhu_bank.certs import CA, SERVER, CertPaths, fingerprint_of_der
from huzhu_bank.runtime import start_bank
from huzhu_bank.service import BankSettings


class _WithPeerCert:
    """ASGI wrapper adding the connection's verified client certificate to every HTTP scope."""

    def __init__(self, app: Any, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.tls:
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": self.tls}}
        await self.app(scope, receive, send)


class PeerCertProtocol(H11Protocol):
    """uvicorn's h11 protocol, telling the application which client certificate it talks to."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        tls: dict[str, Any] = {}
        if der:
            pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()
            tls = {"client_cert_chain": [pem], "client_cert_sha256": fingerprint_of_der(der),
                   "tls_version": ssl_object.version()}
        self.app = _WithPeerCert(self.app, tls)


def server_config(app: Any, *, host: str, port: int, certs: Path) -> uvicorn.Config:
    """uvicorn settings for mutual TLS with the certificates made by :func:`huzhu_bank.certs.make_certs`."""
    paths = CertPaths(certs)
    for needed in (paths.cert(SERVER), paths.key(SERVER), paths.cert(CA)):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} is missing: run `python -m huzhu_bank certs {certs}` first")
    return uvicorn.Config(
        app, host=host, port=port, http=PeerCertProtocol, ws="none", lifespan="off", log_level="warning",
        ssl_certfile=str(paths.cert(SERVER)), ssl_keyfile=str(paths.key(SERVER)),
        ssl_ca_certs=str(paths.cert(CA)), ssl_cert_reqs=ssl.CERT_REQUIRED,
    )


def serve(settings: BankSettings, *, host: str, port: int, certs: Path, clock: Clock | None = None) -> None:
    """Open the bank (tables, key, pool account) and serve it until interrupted."""
    runtime = start_bank(settings, clock=clock)
    try:
        uvicorn.Server(server_config(create_app(runtime), host=host, port=port, certs=certs)).run()
    finally:
        runtime.engine.dispose()
