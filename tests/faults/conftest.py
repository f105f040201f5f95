"""The fault scenarios need root; without it every test fails with that reason (CI runs as root)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lab import Lab, leftovers, require_root  # noqa: E402


@pytest.fixture
def lab():
    """A fresh lab for one test; afterwards nothing of it may remain."""
    reason = require_root()
    if reason:
        pytest.fail(reason)
    with Lab() as lab:
        yield lab
    assert leftovers(lab.run_id) == [], f"the lab left {leftovers(lab.run_id)}"
