"""What the running application holds: settings, database and instrument registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import Request

from app.db import Database
from app.instruments.registry import InstrumentRegistry
from app.settings import Settings


@dataclass(frozen=True)
class AppState:
    settings: Settings
    database: Database
    registry: InstrumentRegistry
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("bordin"))


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.bordin
    return state
