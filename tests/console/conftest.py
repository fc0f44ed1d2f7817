from __future__ import annotations

import pytest

from tests.console.helpers import Console


@pytest.fixture
def console(app):  # type: ignore[no-untyped-def]
    return Console(app)
