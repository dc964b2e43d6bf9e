"""A witness as its own process (``huzhu witness serve``): C2SP tlog-witness over HTTP.

It owns its cosigner key (a file, made with mode 0600 on first start) and its state (a JSON file of
the latest checkpoint it cosigned per log, :class:`~huzhu_verify.witness.JsonFileWitnessState`).
It imports no database and nothing of the platform: the checks are those of
:class:`huzhu_verify.witness.Witness` (valid log signature, consistency proof from the last
cosigned checkpoint; a non-extension is 422, a rollback or a stale old size 409).

    POST /add-checkpoint          the tlog-witness request; 200 with the cosignature line
    GET  /checkpoint?origin=…     the latest checkpoint it cosigned for that log (with its cosignature)
    GET  /key                     its verifier key
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from huzhu_verify.cosignature import CosignatureSigner
from huzhu_verify.note import Ed25519Verifier
from huzhu_verify.witness import JsonFileWitnessState, Witness

MAX_BODY = 64 * 1024


def load_or_make_cosigner(path: Path, name: str = "") -> CosignatureSigner:
    path = Path(path)
    if not path.exists():
        if not name:
            raise SystemExit(f"{path} does not exist: give --name to make a new witness key")
        path.parent.mkdir(parents=True, exist_ok=True)
        signer = CosignatureSigner.generate(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (signer.skey + "\n").encode("ascii"))
        finally:
            os.close(fd)
    return CosignatureSigner.from_skey(path.read_text("ascii").strip())


def make_witness(signer: CosignatureSigner, log_keys: Sequence[str], state: Path) -> Witness:
    logs: dict[str, list[Ed25519Verifier]] = {}
    for vkey in log_keys:
        verifier = Ed25519Verifier.from_vkey(vkey)
        logs.setdefault(verifier.name, []).append(verifier)
    return Witness(signer, logs, JsonFileWitnessState(state))


def handler_for(witness: Witness) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "huzhu-witness"

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            if urllib.parse.urlsplit(self.path).path.rstrip("/") != "/add-checkpoint":
                self._send(404, "text/plain; charset=utf-8", b"not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._send(400, "text/plain; charset=utf-8", b"a request body of 1 to 65536 bytes is needed\n")
                return
            response = witness.add_checkpoint(self.rfile.read(length))
            self._send(response.status, response.content_type, response.body)

        def do_GET(self) -> None:  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/key":
                self._send(200, "text/plain; charset=utf-8", (witness.signer.verifier.vkey + "\n").encode())
                return
            if url.path == "/checkpoint":
                origin = urllib.parse.parse_qs(url.query).get("origin", [""])[0]
                note = witness.latest_checkpoint(origin)
                if note is None:
                    self._send(404, "text/plain; charset=utf-8", b"no checkpoint cosigned for that log\n")
                else:
                    self._send(200, "text/plain; charset=utf-8", note)
                return
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


def serve(signer: CosignatureSigner, log_keys: Sequence[str], state: Path, *, host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), handler_for(make_witness(signer, log_keys, state)))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
