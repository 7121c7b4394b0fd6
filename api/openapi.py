"""The OpenAPI document, completed with what FastAPI cannot see from the routes' signatures.

* Request bodies the routes read themselves (after the caller is known, with a size limit: no body
  parameters) are described by ``openapi_extra`` with ``$ref``s into ``components/schemas``; their
  models (and every model they nest) are registered there (``BODY_MODELS``). A JobSpec is described
  as this server takes it: with a dataset, and a budget within the server's limits.
* Every request validation error is answered as an ErrorBody (``api.errors``), not as FastAPI's
  HTTPValidationError list: the 422 FastAPI documents says so.
* Every operation that requires a bearer token documents its 401 (with ``WWW-Authenticate``), and
  every operation with a request body its 400 (a body that does not parse: FastAPI's own answer for
  the bodies it reads).

Route-specific errors (404, 409, 413, 415, …) are declared by the routes (``error_responses``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.constants import REF_PREFIX
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.errors import ERROR_DESCRIPTIONS, ErrorBody
from api.schemas import DatasetIn, ExtendIn, ImportIn
from api.settings import Settings
from api.validation import budget_limits
from search_spaces import JobSpec
from search_spaces.devices import TargetDevice

REF_TEMPLATE = REF_PREFIX + "{model}"
BODY_MODELS: tuple[type[BaseModel], ...] = (JobSpec, DatasetIn, ExtendIn, ImportIn, TargetDevice, ErrorBody)
FASTAPI_VALIDATION_MODELS = ("HTTPValidationError", "ValidationError")
ERROR_BODY_REF = {"$ref": REF_PREFIX + ErrorBody.__name__}
WWW_AUTHENTICATE = {
    "description": "the scheme to authenticate with",
    "required": True,
    "schema": {"type": "string", "enum": ["Bearer"]},
}


def error_response(status_code: int, **extra: Any) -> dict[str, Any]:
    """A documented error answer, as it appears in the document: an ErrorBody."""
    content = {"application/json": {"schema": ERROR_BODY_REF}}
    return {"description": ERROR_DESCRIPTIONS[status_code], "content": content, **extra}


def component_ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_PREFIX + model.__name__}


def model_schemas(models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """The JSON schemas of ``models`` and of every model they nest, by name, their references
    pointing into ``components/schemas`` (pydantic's own ``#/$defs/…`` would dangle there)."""
    _, top = models_json_schema([(model, "validation") for model in models], ref_template=REF_TEMPLATE)
    return dict(top.get("$defs", {}))


def as_submitted(schemas: dict[str, Any], settings: Settings) -> None:
    """The JobSpec schema as ``POST /v1/jobs`` takes it: a dataset is required (a spec file may
    leave it to the command line; a submission may not), and the budget is within this server's
    limits (a default over a limit must then be given)."""
    job, budget = schemas[JobSpec.__name__], schemas["Budget"]
    job["required"] = sorted({*job.get("required", ()), "dataset"})
    dataset = {key: value for key, value in job["properties"]["dataset"].items() if key != "default"}
    job["properties"]["dataset"] = {**dataset, "minLength": 1}
    for name, limit in budget_limits(settings).items():
        field = budget["properties"][name]
        field["maximum"] = min(field.get("maximum", limit), limit)
        if field.get("default", 0) > limit:
            budget["required"] = sorted({*budget.get("required", ()), name})
            job["required"] = sorted({*job["required"], "budget"})


def register_schemas(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if components.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name} in the OpenAPI document")


def uses_fastapi_validation_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == REF_PREFIX + FASTAPI_VALIDATION_MODELS[0]


def complete_operations(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            validation = responses.get("422")
            if validation is not None and uses_fastapi_validation_error(validation):
                responses["422"] = error_response(422)
            if operation.get("security"):
                responses["401"] = error_response(401, headers={"WWW-Authenticate": WWW_AUTHENTICATE})
            if "requestBody" in operation:
                responses.setdefault("400", error_response(400))
    schemas = document.get("components", {}).get("schemas", {})
    for name in FASTAPI_VALIDATION_MODELS:  # nothing answers with them any more
        schemas.pop(name, None)


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """``app.openapi()`` (and ``/openapi.json``) serve the completed document, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)  # FastAPI's own (which it remembers: forgotten until complete)
            app.openapi_schema = None
            schemas = model_schemas(BODY_MODELS)
            as_submitted(schemas, settings)
            register_schemas(document, schemas)
            complete_operations(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi
