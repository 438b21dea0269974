"""The committed OpenAPI contract: stable operation ids, written to ``openapi/openapi.json``."""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.core.schema_version import PROJECT_ROOT

CONTRACT_PATH = PROJECT_ROOT / "openapi" / "openapi.json"


def operation_id(route: APIRoute) -> str:
    """The route function's name (``create_key``, ``list_agencies``): short, stable, readable."""
    return route.name


def contract_text(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_contract(app: FastAPI, path: Path = CONTRACT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(contract_text(app), encoding="utf-8")
    return path


def load_contract(path: Path = CONTRACT_PATH) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
