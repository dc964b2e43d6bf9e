"""The custodian bank as a witness of the platform's public log (C2SP tlog-witness).

The bank cosigns with its own Ed25519 key (:mod:`huzhu_bank.signing`) as a tlog-cosignature key
(type 0x04, so its key ID differs from the same key's note-signature ID), under its key name. Its
state (the latest checkpoint it cosigned per log) is a JSON file beside its key, apart from the
platform's database. The checks are :class:`huzhu_verify.witness.Witness`'s: the checkpoint must be
validly signed by a log the bank follows and provably extend the one it cosigned before; a fork
is refused (422) and a rollback or a stale old size is answered 409 with the bank's size.

    POST /v1/witness/add-checkpoint   the tlog-witness request (the platform's client certificate)
    GET  /v1/witness/key              the bank's cosignature verifier key
    GET  /v1/witness/checkpoint?origin=…   the latest checkpoint it cosigned for that log

The logs it follows come from ``BankSettings.witness_logs`` (``--witness-log`` or
``HUZHU_BANK_WITNESS_LOGS``, verifier keys separated by spaces).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from huzhu_bank.signing import BankKey
from huzhu_verify.cosignature import CosignatureSigner
from huzhu_verify.note import Ed25519Verifier
from huzhu_verify.witness import JsonFileWitnessState, Witness

if TYPE_CHECKING:
    from huzhu_bank.runtime import BankRuntime

MAX_BODY = 64 * 1024


def bank_cosigner(key: BankKey) -> CosignatureSigner:
    seed = key.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())
    return CosignatureSigner(key.name, seed)


def state_path(key_path: Path) -> Path:
    return Path(key_path).with_name("witness-state.json")


def bank_witness(key: BankKey, log_keys: tuple[str, ...], state: Path) -> Witness:
    logs: dict[str, list[Ed25519Verifier]] = {}
    for vkey in log_keys:
        verifier = Ed25519Verifier.from_vkey(vkey)
        logs.setdefault(verifier.name, []).append(verifier)
    return Witness(bank_cosigner(key), logs, JsonFileWitnessState(state))


def register_witness_routes(app: FastAPI, runtime: BankRuntime) -> None:
    from huzhu_bank.api import client_fingerprint

    witness = bank_witness(runtime.key, tuple(runtime.settings.witness_logs), state_path(runtime.settings.key_path))

    @app.post("/v1/witness/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        client_fingerprint(request)
        body = await request.body()
        if not 0 < len(body) <= MAX_BODY:
            return PlainTextResponse("a request body of 1 to 65536 bytes is needed\n", status_code=400)
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    @app.get("/v1/witness/key")
    def witness_key(request: Request) -> PlainTextResponse:
        client_fingerprint(request)
        return PlainTextResponse(witness.signer.verifier.vkey + "\n")

    @app.get("/v1/witness/checkpoint")
    def witness_checkpoint(request: Request, origin: str = Query(max_length=200)) -> Response:
        client_fingerprint(request)
        note = witness.latest_checkpoint(origin)
        if note is None:
            return PlainTextResponse("no checkpoint cosigned for that log\n", status_code=404)
        return Response(note, media_type="text/plain; charset=utf-8")
