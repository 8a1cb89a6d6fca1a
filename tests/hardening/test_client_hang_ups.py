"""A client that hangs up before it has sent its whole body: not a server fault.

Counted as a 500 (with an ERROR line), anyone could raise the service's error rate, and
page whoever watches it, without even an API key."""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.conftest import LiveServer

_HALF_SENT = {
    "/v1/search": b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    "/v1/memories": b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
    # /mcp authenticates before it reads the body (the key is added below).
    "/mcp": b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
}


def _count(base_url: str, route: str, status: int) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    pattern = (
        rf'memory_http_requests_total\{{method="POST",route="{re.escape(route)}",'
        rf'status="{status}"\}} ([0-9.e+]+)'
    )
    found = re.search(pattern, text)
    return float(found[1]) if found else 0.0


def _hang_up_mid_body(base_url: str, path: str, headers: bytes) -> None:
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname or "", address.port or 80)) as raw:
        raw.sendall(f"POST {path} HTTP/1.1\r\nHost: memory\r\n".encode() + headers)
        time.sleep(0.2)  # the request is being read when the client goes


def test_a_client_hanging_up_mid_body_is_counted_as_499_not_500(
    live_server: LiveServer, api_key: str
) -> None:
    base_url = live_server.base_url
    before = {path: _count(base_url, path, 500) for path in _HALF_SENT}
    gone_before = {path: _count(base_url, path, 499) for path in _HALF_SENT}

    for path, headers in _HALF_SENT.items():
        _hang_up_mid_body(base_url, path, f"X-API-Key: {api_key}\r\n".encode() + headers)

    deadline = time.monotonic() + 10
    while any(_count(base_url, p, 499) < gone_before[p] + 1 for p in _HALF_SENT):
        assert time.monotonic() < deadline, httpx.get(f"{base_url}/metrics").text
        time.sleep(0.2)
    assert {path: _count(base_url, path, 500) for path in _HALF_SENT} == before
