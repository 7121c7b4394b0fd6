"""The server keeps an idle keep-alive connection open longer than clients do, so a client never
sends a request on a connection the server is closing at that moment."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from tests.api.conftest import make_settings, start_server


def _get_health(connection: socket.socket, host: str) -> bytes:
    connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return connection.recv(4096)


def test_an_idle_connection_outlives_the_clients_own_keep_alive_expiry(tmp_path: Path) -> None:
    client_expiry = httpx.Limits().keepalive_expiry  # httpx closes its idle connections after this
    assert client_expiry is not None
    server = start_server(make_settings(tmp_path, None))
    try:
        host = server.url.removeprefix("http://")
        address, port = host.split(":")
        with socket.create_connection((address, int(port)), timeout=30) as connection:
            assert _get_health(connection, host).startswith(b"HTTP/1.1 200")
            time.sleep(client_expiry + 1)  # idle past the point the client would have dropped it
            assert _get_health(connection, host).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
