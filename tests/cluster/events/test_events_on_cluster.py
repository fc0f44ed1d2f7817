"""Consumer groups over the 16 bucket streams and webhook delivery, run unchanged on the Cluster."""

from tests.events.test_consumer_groups import *  # noqa: F403
from tests.events.test_webhook_delivery import *  # noqa: F403
