"""The `binary` pytest fixture: the built limit-eval that CTest names in LIMIT_EVAL_BIN.

Test files in a sub-folder of tests/ import it with

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from limit_eval_binary import binary  # noqa: F401  (a pytest fixture)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def binary() -> Path:
    value = os.environ.get("LIMIT_EVAL_BIN")
    if not value:
        pytest.skip("LIMIT_EVAL_BIN is not set (CTest sets it to the built limit-eval)")
    path = Path(value).resolve()  # absolute: some tests run it from another folder
    assert path.is_file(), f"LIMIT_EVAL_BIN={path} does not exist: build the limit-eval target first"
    return path
