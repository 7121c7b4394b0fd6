"""How the API is served: one uvicorn configuration for `scaler serve`, `scaler demo` and the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

    import uvicorn
    from fastapi import FastAPI

# An idle keep-alive connection is closed by the server only after this long. It must outlast the
# clients' own idle expiry (httpx: 5 s, browsers: ~60 s behind proxies with 60 s), so that the client,
# not the server, closes an idle connection: when the server closes first, a request the client sends
# on that connection at the same moment is lost ("Server disconnected without sending a response").
KEEP_ALIVE_SECONDS = 75
# A stopping server waits this long for the requests in flight, then cuts them (the jobs' event
# streams end on their own as it starts to stop: ``serve``).
GRACEFUL_SHUTDOWN_SECONDS = 10


def server_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration every entry point serves the app with."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def serve(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server of ``app`` (``server_config``) that, as it starts to stop, tells the app so
    (``app.state.stopping``) before it waits for the requests in flight: the jobs' event streams
    (``api.routes.events``), which would otherwise stay open as long as a page shows a job, end."""
    import uvicorn

    class AppServer(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            app.state.stopping.set()
            await super().shutdown(sockets)

    return AppServer(server_config(app, host, port))
