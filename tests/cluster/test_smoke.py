from __future__ import annotations

import redis

from app.store.connection import ClusterClient
from tests.cluster.conftest import LocalCluster


def test_the_service_client_is_a_cluster_client(redis_client: redis.Redis, cluster: LocalCluster) -> None:
    assert isinstance(redis_client, ClusterClient)
    assert len(cluster.masters()) == 3
