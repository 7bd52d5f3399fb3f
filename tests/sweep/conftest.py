from __future__ import annotations

from typing import Any

import pytest

from .helpers import toy_config


@pytest.fixture
def toy() -> dict[str, Any]:
    return toy_config()
