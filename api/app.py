"""The FastAPI app factory: settings, migrations at start, routers, optional scheduler thread."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from api.auth import TokenCache, ensure_default_token
from api.cache import ResponseCache
from api.db.migrate import upgrade
from api.db.session import make_engine, make_session_factory
from api.errors import install_handlers
from api.openapi import install_openapi
from api.routes import (
    admin,
    boxes,
    dashboard,
    datasets,
    devices,
    events,
    health,
    jobs,
    presets,
    trials,
    usage,
)
from api.settings import Settings, get_settings

RELEASE_THREADS = 8  # threads that hand sessions' connections back to the pool (deps.get_session)


def create_app(
    settings: Settings | None = None, on_ready: Callable[[FastAPI], None] | None = None
) -> FastAPI:
    """``on_ready`` runs once the database is migrated and the default token exists."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url()
        upgrade(url)
        # one thread per kept connection: more threads would only queue for a connection (or open
        # and close overflow connections on every burst)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        engine = make_engine(url, pool_size=settings.request_threads)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        app.state.release_limiter = anyio.CapacityLimiter(RELEASE_THREADS)
        app.state.created_token = ensure_default_token(app.state.session_factory, settings.token)
        scheduler = None
        if settings.run_scheduler:
            from api.scheduler import JobScheduler

            scheduler = JobScheduler(settings, app.state.session_factory)
            scheduler.start()
        app.state.scheduler = scheduler
        if on_ready is not None:
            on_ready(app)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            engine.dispose()

    app = FastAPI(title="Scaler", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.response_cache = ResponseCache()
    app.state.token_cache = TokenCache(settings.token_cache_seconds)
    app.state.stopping = threading.Event()  # set as the server starts to stop (api.serving.serve)
    for module in (health, presets, jobs, events, trials, boxes, datasets, devices, usage, admin):
        app.include_router(module.router)
    dashboard.mount(app)
    install_handlers(app)
    install_openapi(app, settings)
    return app
