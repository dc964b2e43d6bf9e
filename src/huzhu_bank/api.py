"""The bank's HTTP API (FastAPI), served only over mutual TLS (see :mod:`huzhu_bank.server`).

Platform endpoints: ``POST /v1/virtual-accounts``, ``POST /v1/payments`` (a pain.001 as
``application/xml``), ``GET /v1/notifications?after=N`` (camt.054 and pain.002 in outbox order),
``GET /v1/statements?after=N``, ``GET /v1/statements/{seq}`` (the camt.053 bytes),
``GET /v1/attestations/{date}`` (the signed note), ``GET /v1/public-key``.

Sandbox endpoints (``/v1/sandbox/…``, only when the bank runs with ``sandbox=True``) do what a payer's
bank, a payee's bank or the end of a business day would: incoming transfers, returns, reject rules,
processing and closing the day. They accept the platform's certificate too; a real bank has none of
them.

Every request needs the client certificate (the TLS layer already refuses connections without one);
its SHA-256 fingerprint is recorded with every instruction acted on. Errors are RFC 9457
``application/problem+json``; bad input changes nothing.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse

from huzhu.custody.iso20022 import NOT_PROVIDED
from huzhu.db import unit_of_work
from huzhu.errors import DomainError, Forbidden
from huzhu.money import format_yuan, parse_yuan
from huzhu_bank import service
from huzhu_bank.certs import fingerprint_of_pem
from huzhu_bank.runtime import BankRuntime
from huzhu_bank.signing import parse_verifier_key
from huzhu_bank.witness import register_witness_routes

PROBLEM_JSON = "application/problem+json"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
XML_TYPES = ("application/xml", "text/xml")
log = logging.getLogger("huzhu_bank")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class VirtualAccountIn(_Strict):
    reference: str = Field(description="the member's reference, 1–35 letters, digits or '-'", examples=["M00000123"])


class IncomingTransferIn(_Strict):
    amount: str = Field(description='yuan as a decimal string, e.g. "9.00"', examples=["9.00"])
    reference: str = Field(description="what the payer quoted: a member reference or virtual account number")
    payer_name: str
    payer_account: str
    end_to_end_id: str = Field(default=NOT_PROVIDED, description="the payer bank's id; repeats book once")
    remittance_info: str = ""


class ReturnIn(_Strict):
    end_to_end_id: str
    reason_code: str = Field(default="AC04", description="ISO 20022 return reason, e.g. AC04 closed account")


class RejectRuleIn(_Strict):
    creditor_account: str
    reason_code: str = Field(default="AC04", description="ISO 20022 status reason given to these payments")


# --- problems and the client certificate ----------------------------------------------------------


def _problem(request: Request, status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail,
            "instance": request.url.path, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _install_problems(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        errors = exc.details.get("errors")
        return _problem(request, exc.status_code, exc.type_slug, exc.title, exc.message, errors=errors)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        return _problem(request, 422, "invalid-input", "Invalid input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem(request, exc.status_code, "http-error", str(exc.detail), str(exc.detail))

    @app.exception_handler(IntegrityError)
    async def integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error: %s", exc)
        return _problem(request, 409, "conflict", "Conflict",
                        "another request changed the same thing at the same time; retry")

    @app.exception_handler(OperationalError)
    async def busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database busy: %s", exc)
        return _problem(request, 503, "busy", "Busy", "the bank's database is busy; retry shortly")


def client_fingerprint(request: Request) -> str:
    """SHA-256 of the client certificate the TLS layer verified (see :mod:`huzhu_bank.server`)."""
    tls = (request.scope.get("extensions") or {}).get("tls") or {}
    if tls.get("client_cert_sha256"):
        return str(tls["client_cert_sha256"])
    chain = tls.get("client_cert_chain") or []
    if not chain:
        raise Forbidden("the bank only answers a client that presents its certificate (mutual TLS)")
    return fingerprint_of_pem(chain[0])


def _xml_body(request: Request, body: bytes) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in XML_TYPES:
        raise StarletteHTTPException(415, f"send the pain.001 as application/xml, not {content_type or 'nothing'}")
    if len(body) > MAX_MESSAGE_BYTES:
        raise StarletteHTTPException(413, f"a payment message may be at most {MAX_MESSAGE_BYTES} bytes")
    return body


# --- the application ----------------------------------------------------------------------------


def create_app(runtime: BankRuntime) -> FastAPI:
    app = FastAPI(title="huzhu custodian bank (sandbox)", version="1", docs_url=None, redoc_url=None)
    _install_problems(app)
    _platform_routes(app, runtime)
    register_witness_routes(app, runtime)
    if runtime.settings.sandbox:
        _sandbox_routes(app, runtime)
    return app


def _platform_routes(app: FastAPI, runtime: BankRuntime) -> None:
    @app.post("/v1/virtual-accounts", status_code=201)
    def open_virtual_account(body: VirtualAccountIn, request: Request, response: Response) -> dict[str, Any]:
        fingerprint = client_fingerprint(request)
        now = runtime.clock.now()
        with unit_of_work(runtime.writer) as session:
            virtual, created = service.open_virtual_account(session, reference=body.reference,
                                                            fingerprint=fingerprint, now=now)
            service.log_instruction(session, kind="open-virtual-account", fingerprint=fingerprint,
                                    body=body.model_dump_json().encode(),
                                    outcome=f"{'opened' if created else 'already open'} {virtual.number}", now=now)
        response.status_code = 201 if created else 200
        return {"reference": virtual.reference, "number": virtual.number, "opened_at": virtual.opened_at.isoformat()}

    @app.post("/v1/payments", status_code=202)
    async def receive_payments(request: Request, response: Response) -> dict[str, Any]:
        fingerprint = client_fingerprint(request)
        xml = _xml_body(request, await request.body())
        receipt = await run_in_threadpool(_receive, runtime, xml, fingerprint)
        response.status_code = 200 if receipt.duplicate else 202
        return {"message_id": receipt.message_id, "duplicate": receipt.duplicate, "status": receipt.group_status,
                "transactions": [{"end_to_end_id": e2e, "status": status, "reason_code": reason or None}
                                 for e2e, status, reason in receipt.transactions]}

    @app.get("/v1/notifications")
    def notifications(request: Request, after: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        client_fingerprint(request)
        with runtime.reader() as session:
            rows = service.notifications_after(session, after, limit)
            items = [{"seq": m.seq, "type": m.message_type, "message_id": m.message_id,
                      "created_at": m.created_at.isoformat(), "xml": m.xml} for m in rows]
        return {"notifications": items, "next_after": items[-1]["seq"] if items else after}

    @app.get("/v1/statements")
    def statements(request: Request, after: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        client_fingerprint(request)
        with runtime.reader() as session:
            items = [{"seq": s.seq, "statement_id": s.statement_id, "business_date": s.business_date.isoformat(),
                      "opening_balance": format_yuan(s.opening_fen), "closing_balance": format_yuan(s.closing_fen),
                      "entries": s.entry_count, "sha256": s.sha256, "href": f"/v1/statements/{s.seq}"}
                     for s in service.statements_after(session, after, limit)]
        return {"statements": items, "next_after": items[-1]["seq"] if items else after}

    @app.get("/v1/statements/{seq}")
    def statement(request: Request, seq: int) -> Response:
        client_fingerprint(request)
        with runtime.reader() as session:
            record = service.statement(session, seq)
            return Response(record.xml.encode(), media_type="application/xml",
                            headers={"X-Statement-Sequence": str(record.seq), "X-Statement-SHA256": record.sha256})

    @app.get("/v1/attestations/{day}")
    def attestation(request: Request, day: date) -> PlainTextResponse:
        client_fingerprint(request)
        with runtime.reader() as session:
            return PlainTextResponse(service.attestation(session, day).note)

    @app.get("/v1/public-key")
    def public_key(request: Request) -> dict[str, str]:
        client_fingerprint(request)
        key = runtime.key
        name, raw = parse_verifier_key(key.verifier_key)
        return {"algorithm": "Ed25519", "key_name": name, "public_key_hex": raw.hex(),
                "verifier_key": key.verifier_key, "note_format": "C2SP signed-note"}


def _receive(runtime: BankRuntime, xml: bytes, fingerprint: str) -> service.Receipt:
    now = runtime.clock.now()
    with unit_of_work(runtime.writer) as session:
        receipt = service.receive_payments(session, xml=xml, fingerprint=fingerprint, now=now)
        outcome = f"{'repeat' if receipt.duplicate else 'accepted'} {receipt.message_id} {receipt.group_status}"
        service.log_instruction(session, kind="payments", fingerprint=fingerprint, body=xml, outcome=outcome, now=now)
    return receipt


def _sandbox_routes(app: FastAPI, runtime: BankRuntime) -> None:
    @app.post("/v1/sandbox/incoming-transfer", status_code=201)
    def incoming_transfer(body: IncomingTransferIn, request: Request, response: Response) -> dict[str, Any]:
        fingerprint = client_fingerprint(request)
        amount = parse_yuan(body.amount, field="amount")
        now = runtime.clock.now()
        with unit_of_work(runtime.writer) as session:
            booking, created = service.incoming_transfer(
                session, amount_fen=amount, reference=body.reference, payer_name=body.payer_name,
                payer_account=body.payer_account, end_to_end_id=body.end_to_end_id,
                remittance_info=body.remittance_info, now=now)
            service.log_instruction(session, kind="sandbox-incoming-transfer", fingerprint=fingerprint,
                                    body=body.model_dump_json().encode(),
                                    outcome=f"{'booked' if created else 'repeat of'} {booking.bank_reference}", now=now)
            answer = {"bank_reference": booking.bank_reference, "amount": format_yuan(booking.amount_fen),
                      "known_reference": booking.virtual_account_id is not None,
                      "booked_at": booking.booked_at.isoformat()}
        response.status_code = 201 if created else 200
        return answer

    @app.post("/v1/sandbox/return", status_code=201)
    def return_payment(body: ReturnIn, request: Request, response: Response) -> dict[str, Any]:
        fingerprint = client_fingerprint(request)
        now = runtime.clock.now()
        with unit_of_work(runtime.writer) as session:
            booking, created = service.return_payment(session, end_to_end_id=body.end_to_end_id,
                                                      reason_code=body.reason_code, now=now)
            service.log_instruction(session, kind="sandbox-return", fingerprint=fingerprint,
                                    body=body.model_dump_json().encode(),
                                    outcome=f"{'returned' if created else 'already returned'} {booking.bank_reference}",
                                    now=now)
            answer = {"bank_reference": booking.bank_reference, "amount": format_yuan(booking.amount_fen)}
        response.status_code = 201 if created else 200
        return answer

    @app.post("/v1/sandbox/reject-rules", status_code=201)
    def reject_rule(body: RejectRuleIn, request: Request) -> dict[str, str]:
        fingerprint = client_fingerprint(request)
        now = runtime.clock.now()
        with unit_of_work(runtime.writer) as session:
            rule = service.add_reject_rule(session, creditor_account=body.creditor_account,
                                           reason_code=body.reason_code, now=now)
            service.log_instruction(session, kind="sandbox-reject-rule", fingerprint=fingerprint,
                                    body=body.model_dump_json().encode(), outcome=f"rule {rule.reason_code}", now=now)
        return {"creditor_account": body.creditor_account, "reason_code": body.reason_code}

    @app.post("/v1/sandbox/process")
    def process(request: Request) -> dict[str, int]:
        fingerprint = client_fingerprint(request)
        now = runtime.clock.now()
        with unit_of_work(runtime.writer) as session:
            count = service.process_payments(session, now=now)
            service.log_instruction(session, kind="sandbox-process", fingerprint=fingerprint, body=b"",
                                    outcome=f"processed {count}", now=now)
        return {"processed": count}

    @app.post("/v1/sandbox/close-day")
    def close_day(request: Request) -> dict[str, Any]:
        fingerprint = client_fingerprint(request)
        now = runtime.clock.now()
        with unit_of_work(runtime.writer) as session:
            closed = service.close_day(session, key=runtime.key, now=now)
            service.log_instruction(session, kind="sandbox-close-day", fingerprint=fingerprint, body=b"",
                                    outcome=f"closed {closed.business_date} statement {closed.statement_seq}", now=now)
        return {"business_date": closed.business_date.isoformat(), "statement_seq": closed.statement_seq,
                "statement_id": closed.statement_id, "opening_balance": format_yuan(closed.opening_fen),
                "closing_balance": format_yuan(closed.closing_fen), "entries": closed.entry_count,
                "sha256": closed.sha256}
