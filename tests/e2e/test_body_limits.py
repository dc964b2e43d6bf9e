"""Request bodies are capped at the edge, by counting bytes as they arrive.

A tester sent 200 MB of JSON to the anonymous register endpoint (the server read it whole: 592 MB
resident) and a 300 MB upload (spooled whole before the 413). Against ``huzhu serve`` in its own
process: a ``Content-Length`` over the limit is refused before the body is read; a body without
one (chunked) is refused as soon as the count passes the limit; and the server's peak memory
(``VmHWM``) grows by less than a few MB however much the client would have sent.
"""

from __future__ import annotations

import json
import select
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from e2e.helpers import ServedProcess, served

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
CHUNK = b"x" * MIB
# The server's peak resident memory may grow this much while refusing a huge body (buffers, the
# first refusal's code paths); reading the body would grow it by hundreds of MB.
PEAK_GROWTH_KIB = 4 * 1024


def response_of(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            break
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        part = sock.recv(65536)
        if not part:
            break
        body += part
    return int(lines[0].split()[1]), headers, body


def send_huge(server: ServedProcess, path: str, content_type: str, total: int, *, declare: bool,
              prefix: bytes = b"") -> tuple[int, dict[str, str], bytes, int]:
    """Send ``total`` bytes (declared in Content-Length, or chunked) until the server answers;
    returns the status, headers, body and how many body bytes were sent before the answer came."""
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    framing = f"Content-Length: {total}" if declare else "Transfer-Encoding: chunked"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: {content_type}\r\n"
                 f"Accept: application/json\r\n{framing}\r\n\r\n".encode())
    sent = 0
    try:
        while sent < total:
            piece = prefix if sent == 0 and prefix else CHUNK
            sock.sendall(piece if declare else f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
        else:
            if not declare:
                sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed the connection after refusing
    status, headers, body = response_of(sock)
    sock.close()
    return status, headers, body, sent


def warm_up(server: ServedProcess) -> None:
    """The code paths a refusal takes, once, so their first-use memory is not counted."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/api/v1/auth/register", json={"login": "bad", "password": "x", "display_name": ""})
        client.post("/api/v1/auth/register", content=b"{" + b" " * (2 * MIB) + b"}",
                    headers={"content-type": "application/json"})
        client.post("/api/v1/claims/1/evidence", files={"file": ("a.pdf", b"%PDF-" + b"0" * 1000)})


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
def test_a_huge_json_body_is_refused_without_being_read(database_url: str, tmp_path: Path, declare: bool) -> None:
    with served(database_url, tmp_path, HUZHU_MAX_BODY_BYTES=str(MIB)) as server:
        warm_up(server)
        peak_before = server.peak_rss_kib()
        prefix = json.dumps({"login": "13700000001", "password": "pass-word-1", "display_name": ""})[:-2].encode()
        status, headers, body, sent = send_huge(server, "/api/v1/auth/register", "application/json", 200 * MIB,
                                                declare=declare, prefix=prefix)
        growth = server.peak_rss_kib() - peak_before
    assert status == 413
    assert headers["content-type"] == "application/problem+json" and headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["code"] == "http.body_too_large" and problem["params"]["limit"] == MIB
    # Declared: refused on the headers. Chunked: refused a little past the limit, not at 200 MB.
    assert sent <= 16 * MIB, sent  # the answer came long before 200 MB (socket buffers hold a few MB)
    assert growth < PEAK_GROWTH_KIB, f"the server's peak memory grew by {growth} KiB"


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
def test_a_huge_upload_is_refused_without_being_spooled(database_url: str, tmp_path: Path, declare: bool) -> None:
    with served(database_url, tmp_path, HUZHU_MAX_UPLOAD_BYTES=str(2 * MIB)) as server:
        warm_up(server)
        peak_before = server.peak_rss_kib()
        boundary = "huzhu-limit-test"
        prefix = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
                  f"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n").encode()
        status, _headers, body, sent = send_huge(server, "/api/v1/claims/1/evidence",
                                                 f"multipart/form-data; boundary={boundary}", 300 * MIB,
                                                 declare=declare, prefix=prefix)
        growth = server.peak_rss_kib() - peak_before
        spooled = sum(f.stat().st_size for f in (tmp_path / "data").rglob("*") if f.is_file()
                      and not f.name.startswith("huzhu.sqlite"))
    assert status == 413 and json.loads(body)["code"] == "http.upload_too_large"
    assert sent <= 24 * MIB, sent
    assert growth < PEAK_GROWTH_KIB, f"the server's peak memory grew by {growth} KiB"
    assert spooled < 8 * MIB  # nothing near 300 MB was written anywhere either


def test_bodies_under_the_limit_still_work(database_url: str, tmp_path: Path) -> None:
    with served(database_url, tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post("/api/v1/auth/register", json={"login": "13700000001", "password": "pass-word-1",
                                                             "display_name": "限额内"})
        assert answer.status_code == 201, answer.text
        page = client.post("/login", data={"login": "x", "password": "y"}, headers={"Accept": "text/html"})
        assert page.status_code == 403  # reached the page (no CSRF token), not refused for its size
        huge = client.post("/login", content=b"login=" + b"x" * (2 * MIB),
                           headers={"Accept": "text/html", "content-type": "application/x-www-form-urlencoded"})
        assert huge.status_code == 413 and "Upload too large" in huge.text
