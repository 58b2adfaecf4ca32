"""stub"""

from __future__ import annotations

from typing import Any


def register(server: Any) -> None:
    pass
