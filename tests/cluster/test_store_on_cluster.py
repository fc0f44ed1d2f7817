"""The store tests, run unchanged against the 3-master Cluster (the fixtures of tests/cluster/conftest.py
give them a cluster-backed client): every script, pipeline and MULTI the store sends is accepted there,
and behaves as on one node. (The one-node round-trip counts are not imported: tests/cluster/
test_round_trips_on_cluster.py counts them on the Cluster.)"""

from tests.store.test_embedded_store import *  # noqa: F403
from tests.store.test_event_store import *  # noqa: F403
from tests.store.test_listing import *  # noqa: F403
from tests.store.test_refresh_token_store import *  # noqa: F403
from tests.store.test_store_concurrency import *  # noqa: F403
from tests.store.test_store_events_and_round_trips import (  # noqa: F401
    test_a_revoke_that_finds_nothing_appends_no_event,
    test_an_import_appends_one_event_per_bucket_naming_every_token,
    test_minting_appends_exactly_one_create_event_to_the_users_bucket_stream,
    test_revoking_a_tenants_applications_appends_one_event_to_the_tenants_bucket,
    test_revoking_a_user_appends_one_event_with_its_counts_and_revoking_nothing_appends_none,
    test_revoking_an_application_appends_one_event_with_the_totals_to_its_own_bucket,
    test_revoking_one_token_appends_exactly_one_revoke_event_naming_it,
    test_the_event_stream_is_trimmed_to_its_maximum_length,
)
from tests.store.test_user_kills import (  # noqa: F401
    test_a_later_revoke_counts_killed_tokens_as_previously_invalidated_before_and_after_their_burial,
    test_a_revoked_users_tokens_are_dead_at_once_and_tombstones_once_buried,
    test_the_burial_walks_every_bucket_in_bounded_batches,
    test_the_records_of_a_revoked_user_leave_redis_once_buried_and_expired,
    test_tokens_minted_or_imported_after_the_revoke_live_whatever_their_insert_instant,
    test_what_a_watermark_touched_or_another_tenant_holds_is_handled_record_by_record,
)
from tests.store.test_watermarks import *  # noqa: F403
