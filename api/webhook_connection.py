"""The webhook's connection (``api/webhook.py``): httpcore's own HTTP client over a network backend
that connects only to the addresses checked for the hook (``PinnedBackend``), the URL's host name
kept for the Host header, TLS's server name and the certificate check; and that ends the whole
exchange at a deadline, however slowly the hook sends its answer (``DeadlineStream``)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable

import httpcore

from api.webhook_targets import IPAddress

# the socket options httpcore passes (httpcore.SOCKET_OPTION, not exported on every Python)
SocketOptions = Iterable[
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
]


def time_left(deadline: float, timeout: float | None, late: type[httpcore.TimeoutException]) -> float:
    """The timeout of one network operation: ``timeout``, cut to what is left until ``deadline``."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("the webhook's attempt ran out of time")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by ``deadline`` (``time.monotonic()``)."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream, self.deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, time_left(self.deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, time_left(self.deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = time_left(self.deadline, timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, left), self.deadline)

    def get_extra_info(self, info: str) -> object:
        return self.stream.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects to the first of ``addresses`` that answers, whatever host it is asked for, on the
    port asked; its connections end by ``deadline``."""

    def __init__(self, addresses: tuple[IPAddress, ...], deadline: float) -> None:
        self.addresses, self.deadline = addresses, deadline
        self.system = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in self.addresses:
            left = time_left(self.deadline, timeout, httpcore.ConnectTimeout)
            try:
                stream = self.system.connect_tcp(str(address), port, left, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
                continue
            return DeadlineStream(stream, self.deadline)
        raise failure or httpcore.ConnectError(f"{host} has no address to connect to")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("a webhook is called over TCP only")


def post_status(
    url: str,
    addresses: tuple[IPAddress, ...],
    headers: list[tuple[bytes, bytes]],
    content: bytes,
    timeout: float,
    deadline: float,
) -> int:
    """POST ``content`` to ``url`` at one of ``addresses``: the answer's status code, its body left
    unread. Raises httpcore's errors (``CONNECTION_ERRORS``)."""
    import httpx

    backend = PinnedBackend(addresses, deadline)
    every = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    with (
        httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend) as pool,
        pool.stream("POST", url, headers=headers, content=content, extensions={"timeout": every}) as answer,
    ):
        return answer.status


# what a call of the hook may raise: it did not answer, or not in HTTP
CONNECTION_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
)
