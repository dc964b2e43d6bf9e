"""The platform's side of the custodian bank: a connector interface and its HTTP (mutual TLS) form.

:class:`BankConnector` is what the platform needs from any custodian bank; a real bank's channel (an
API, or SFTP file exchange of the same ISO 20022 files) plugs in by implementing it:

- ``open_virtual_account(reference)``: a member's personal virtual sub-account on the pool account;
- ``send_payments(pain001)``: hand over a pain.001 (idempotent by MsgId and EndToEndId);
- ``notifications(after)``: the bank's camt.054 and pain.002 messages numbered after a cursor, in
  order, each already validated and parsed; the platform stores the last number it has *processed*
  and asks again after it, so nothing is lost while the platform is down;
- ``statements(after)`` / ``statement(seq)``: the daily camt.053 statements, gaplessly numbered;
- ``attestation(day)`` / ``public_key()``: the bank's signed end-of-day note and the key to check it.

Errors are typed so callers can decide: :class:`BankUnreachable` (no answer, or the bank failed:
retry later), :class:`BankRefused` (the bank answered no: fix the request), and
:class:`BankMessageMalformed` (the bank's answer breaks the protocol or the ISO schema: raise an
exception for people, never guess).

No ledger logic lives here: booking deposits from camt.054, posting or voiding two-phase payouts
from pain.002 and reconciling camt.053 belong to the ledger's integration.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import httpx

from huzhu.custody.iso20022 import (
    CAMT054,
    PAIN002,
    Notification,
    PaymentStatusReport,
    parse_camt054,
    parse_pain002,
)
from huzhu.errors import InvalidInput
from huzhu.money import parse_yuan

__all__ = [
    "BankConnector",
    "BankError",
    "BankMessageMalformed",
    "BankNotification",
    "BankPublicKey",
    "BankRefused",
    "BankUnreachable",
    "HttpBankConnector",
    "PaymentReceipt",
    "StatementInfo",
    "VirtualAccountInfo",
]


class BankError(Exception):
    """Something went wrong talking to the custodian bank."""


class BankUnreachable(BankError):
    """No usable answer: connection refused or reset, TLS handshake failed, timeout, or a 5xx."""


class BankRefused(BankError):
    """The bank answered and refused the request (4xx); ``problem`` is its RFC 9457 document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"the bank refused ({status}): {problem.get('detail') or problem.get('title') or 'no detail'}")


class BankMessageMalformed(BankError):
    """The bank's answer breaks the protocol: not the JSON promised, XML failing its schema, a wrong digest."""


@dataclass(frozen=True)
class VirtualAccountInfo:
    reference: str
    number: str
    opened_now: bool


@dataclass(frozen=True)
class PaymentReceipt:
    """The bank's immediate answer to a pain.001 (the pain.002 follows in the notifications)."""

    message_id: str
    duplicate: bool
    status: str
    transactions: tuple[tuple[str, str, str], ...]  # (EndToEndId, status, reason code or "")


@dataclass(frozen=True)
class BankNotification:
    """One message from the bank's outbox, validated and parsed."""

    seq: int
    message_type: str  # "camt.054.001.08" or "pain.002.001.12"
    message_id: str
    xml: bytes
    message: Notification | PaymentStatusReport


@dataclass(frozen=True)
class StatementInfo:
    seq: int
    statement_id: str
    business_date: date
    opening_balance_fen: int
    closing_balance_fen: int
    entries: int
    sha256: str


@dataclass(frozen=True)
class BankPublicKey:
    key_name: str
    verifier_key: str  # C2SP note verifier key: name+hash+base64(0x01 ‖ key)
    public_key: bytes  # raw 32-byte Ed25519 key


class BankConnector(Protocol):
    """What the platform needs from a custodian bank, whatever the channel."""

    def open_virtual_account(self, reference: str) -> VirtualAccountInfo:
        """Open (or find) the virtual sub-account of a member reference."""
        ...

    def send_payments(self, pain001: bytes) -> PaymentReceipt:
        """Hand a schema-valid pain.001 to the bank; resending the same message is harmless."""
        ...

    def notifications(self, after: int, limit: int = 100) -> list[BankNotification]:
        """The bank's messages numbered after ``after``, in order, at most ``limit``."""
        ...

    def statements(self, after: int, limit: int = 100) -> list[StatementInfo]:
        """The statements numbered after ``after``, in order."""
        ...

    def statement(self, seq: int) -> bytes:
        """The exact bytes of camt.053 number ``seq`` (their SHA-256 checked against the bank's)."""
        ...

    def attestation(self, day: date) -> str:
        """The bank's signed end-of-day note for ``day`` (C2SP signed-note text)."""
        ...

    def public_key(self) -> BankPublicKey:
        """The key the bank signs its notes with."""
        ...


def mtls_context(*, ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """Trust only the bank's CA and present the platform's client certificate."""
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(cert_file, key_file)
    return context


class HttpBankConnector:
    """:class:`BankConnector` over the bank's HTTP API with mutual TLS (httpx)."""

    def __init__(self, base_url: str, *, ca_file: str, cert_file: str, key_file: str, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=timeout, transport=transport,
                                    verify=mtls_context(ca_file=ca_file, cert_file=cert_file, key_file=key_file))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpBankConnector:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except (httpx.TransportError, ssl.SSLError, OSError) as exc:
            raise BankUnreachable(f"cannot reach the bank at {self._client.base_url}: {exc!r}") from exc
        if response.status_code >= 500:
            raise BankUnreachable(f"the bank failed ({response.status_code}) on {method} {path}")
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            raise BankRefused(response.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError as exc:
            raise BankMessageMalformed(f"{method} {path}: the bank's answer is not JSON") from exc
        if not isinstance(body, dict):
            raise BankMessageMalformed(f"{method} {path}: the bank's answer is not a JSON object")
        return body

    # -- the connector ---------------------------------------------------------------------------

    def open_virtual_account(self, reference: str) -> VirtualAccountInfo:
        response = self._request("POST", "/v1/virtual-accounts", json={"reference": reference})
        body = _object(response)
        return _field(lambda: VirtualAccountInfo(str(body["reference"]), str(body["number"]),
                                                 response.status_code == 201), "virtual account")

    def send_payments(self, pain001: bytes) -> PaymentReceipt:
        body = self._json("POST", "/v1/payments", content=pain001, headers={"Content-Type": "application/xml"})
        return _field(lambda: PaymentReceipt(
            message_id=str(body["message_id"]), duplicate=bool(body["duplicate"]), status=str(body["status"]),
            transactions=tuple((str(t["end_to_end_id"]), str(t["status"]), str(t.get("reason_code") or ""))
                               for t in body["transactions"])), "payment receipt")

    def notifications(self, after: int, limit: int = 100) -> list[BankNotification]:
        body = self._json("GET", "/v1/notifications", params={"after": after, "limit": limit})
        items = _field(lambda: list(body["notifications"]), "notifications")
        result = [_notification(item) for item in items]
        expected = list(range(after + 1, after + 1 + len(result)))
        if [n.seq for n in result] != expected:
            raise BankMessageMalformed(f"notifications after {after} are not numbered {expected[:3]}…: "
                                       f"{[n.seq for n in result][:3]}…; a message is missing")
        return result

    def statements(self, after: int, limit: int = 100) -> list[StatementInfo]:
        body = self._json("GET", "/v1/statements", params={"after": after, "limit": limit})
        return _field(lambda: [StatementInfo(
            seq=int(s["seq"]), statement_id=str(s["statement_id"]),
            business_date=date.fromisoformat(s["business_date"]),
            opening_balance_fen=_signed_yuan(s["opening_balance"]),
            closing_balance_fen=_signed_yuan(s["closing_balance"]),
            entries=int(s["entries"]), sha256=str(s["sha256"])) for s in body["statements"]], "statements")

    def statement(self, seq: int) -> bytes:
        response = self._request("GET", f"/v1/statements/{seq}")
        stated = response.headers.get("X-Statement-SHA256", "")
        if hashlib.sha256(response.content).hexdigest() != stated:
            raise BankMessageMalformed(f"statement {seq}: its bytes do not match the SHA-256 the bank states")
        return response.content

    def attestation(self, day: date) -> str:
        return self._request("GET", f"/v1/attestations/{day.isoformat()}").text

    def public_key(self) -> BankPublicKey:
        body = self._json("GET", "/v1/public-key")
        key = _field(lambda: BankPublicKey(str(body["key_name"]), str(body["verifier_key"]),
                                           bytes.fromhex(body["public_key_hex"])), "public key")
        if body.get("algorithm") != "Ed25519" or len(key.public_key) != 32:
            raise BankMessageMalformed("the bank's public key is not a 32-byte Ed25519 key")
        return key


def _object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise BankMessageMalformed("the bank's answer is not JSON") from exc
    if not isinstance(body, dict):
        raise BankMessageMalformed("the bank's answer is not a JSON object")
    return body


def _field(make: Any, what: str) -> Any:
    try:
        return make()
    except (KeyError, TypeError, ValueError, InvalidInput) as exc:
        raise BankMessageMalformed(f"the bank's {what} lacks or garbles a field: {exc!r}") from exc


def _signed_yuan(text: str) -> int:
    if not isinstance(text, str):
        raise ValueError("an amount must be a decimal string")
    negative = text.startswith("-")
    fen = parse_yuan(text[1:] if negative else text, field="balance", allow_zero=True)
    return -fen if negative else fen


_PARSERS: dict[str, Callable[[bytes], Notification | PaymentStatusReport]] = {CAMT054: parse_camt054, PAIN002: parse_pain002}


def _notification(item: Any) -> BankNotification:
    def header() -> tuple[int, str, str, bytes]:
        return int(item["seq"]), str(item["type"]), str(item["message_id"]), str(item["xml"]).encode()

    seq, message_type, message_id, xml = _field(header, "notification")
    parser = _PARSERS.get(message_type)
    if parser is None:
        raise BankMessageMalformed(f"notification {seq} is a {message_type!r}, which the platform does not read")
    try:
        message = parser(xml)
    except InvalidInput as exc:
        raise BankMessageMalformed(f"notification {seq} ({message_type}): {exc.message}") from exc
    if message.message_id != message_id:
        raise BankMessageMalformed(f"notification {seq}: its XML is message {message.message_id}, not {message_id}")
    return BankNotification(seq, message_type, message_id, xml, message)
