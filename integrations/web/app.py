"""The FastAPI application factory (nothing is built at import time)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from assistant.settings import Settings
from knowledge.errors import AssistantError, ServiceUnavailable
from knowledge.practice.database import check_schema, make_engine


def create_app(settings: Settings) -> FastAPI:
    """Build the web app for these settings. The database schema is checked before serving."""
    engine = make_engine(settings.resolved_database_url)
    check_schema(engine)
    app = FastAPI(title="Billing-office assistant", version="0.1.0")
    app.state.settings = settings
    app.state.engine = engine

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """Whether the server and its database answer."""
        try:
            check_schema(engine)
        except AssistantError as exc:
            raise ServiceUnavailable(exc.message) from exc
        return {"status": "ok", "database": engine.url.get_backend_name()}

    @app.exception_handler(AssistantError)
    async def assistant_error(_request: Any, exc: AssistantError) -> JSONResponse:
        status = {
            "not_found": 404,
            "permission_denied": 403,
            "invalid_input": 422,
            "service_unavailable": 503,
        }
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=status.get(exc.code, 400))

    return app
