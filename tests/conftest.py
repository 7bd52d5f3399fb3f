from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
# the CLI keeps the views' option declarations in the user's cache folder: tests use their own
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="layerflow-test-cache-")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
