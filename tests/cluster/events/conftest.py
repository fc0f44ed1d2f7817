"""The event tests' fixtures (a webhook receiver, delivery threads as the worker runs them), with the
app on the Cluster."""

from __future__ import annotations

import pytest
import redis

from app import create_app
from tests.cluster.conftest import LocalCluster
from tests.conftest import make_settings
from tests.events.conftest import FAST, receiver, run_delivery  # noqa: F401 - fixtures used by the tests


@pytest.fixture
def app(redis_client: redis.Redis, cluster: LocalCluster):  # type: ignore[no-untyped-def]
    return create_app(make_settings(cluster.url, **FAST))
