"""The API tests, run unchanged against the 3-master Cluster (the `app` fixture of
tests/cluster/conftest.py serves on it): minting, exchange, rotation, revocation by token, user,
application and tenant, listing, access tokens, events, webhooks and administration."""

from tests.api.test_access_tokens import *  # noqa: F403
from tests.api.test_admin_api import *  # noqa: F403
from tests.api.test_events_api import *  # noqa: F403
from tests.api.test_graph_and_elastic import *  # noqa: F403
from tests.api.test_listing_answers import *  # noqa: F403
from tests.api.test_oauth import *  # noqa: F403
from tests.api.test_refresh_api import *  # noqa: F403
from tests.api.test_rotation import *  # noqa: F403
from tests.api.test_webhooks_api import *  # noqa: F403
