"""The shared throttle: counted in the database, keyed by a hash, forgotten after a day."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from servicecharter.core import throttle
from servicecharter.core.models import ThrottleHit
from servicecharter.core.subscribers import prune_throttle_hits

HOUR = timedelta(hours=1)


@pytest.fixture
def clock():
    with time_machine.travel("2026-03-02 09:00:00+08:00", tick=False) as traveller:
        yield traveller


def test_it_allows_up_to_the_limit_then_refuses(db, clock):
    for _ in range(3):
        assert not throttle.throttle_exceeded(scope="t", key="10.0.0.1", limit=3, window=HOUR)
        throttle.throttle_hit(scope="t", key="10.0.0.1")
    assert throttle.throttle_exceeded(scope="t", key="10.0.0.1", limit=3, window=HOUR)


def test_addresses_and_scopes_are_counted_apart(db, clock):
    for _ in range(3):
        throttle.throttle_hit(scope="t", key="10.0.0.1")
    assert not throttle.throttle_exceeded(scope="t", key="10.0.0.2", limit=3, window=HOUR)
    assert not throttle.throttle_exceeded(scope="other", key="10.0.0.1", limit=3, window=HOUR)


def test_hits_older_than_the_window_no_longer_count(db, clock):
    for _ in range(3):
        throttle.throttle_hit(scope="t", key="10.0.0.1")
    clock.shift(HOUR + timedelta(seconds=1))
    assert not throttle.throttle_exceeded(scope="t", key="10.0.0.1", limit=3, window=HOUR)


def test_check_records_the_attempt_and_answers(db, clock):
    answers = [
        throttle.throttle_check(scope="t", key="10.0.0.1", limit=2, window=HOUR) for _ in range(3)
    ]
    assert answers == [True, True, False]
    assert ThrottleHit.objects.filter(scope="t").count() == 3


def test_the_address_is_stored_only_as_a_keyed_hash(db, clock):
    throttle.throttle_hit(scope="t", key="203.0.113.7")
    stored = ThrottleHit.objects.get()
    assert "203.0.113.7" not in stored.key
    assert stored.key == throttle.throttle_key("203.0.113.7") and len(stored.key) == 64


def test_a_request_without_an_address_is_still_counted(db, clock):
    for _ in range(2):
        throttle.throttle_hit(scope="t", key=None)
    assert throttle.throttle_exceeded(scope="t", key=None, limit=2, window=HOUR)


def test_counting_costs_one_query_however_many_hits(db, clock, django_assert_num_queries):
    ThrottleHit.objects.bulk_create(
        ThrottleHit(scope="t", key=throttle.throttle_key("10.0.0.1"), at=timezone.now())
        for _ in range(500)
    )
    with django_assert_num_queries(1):
        assert throttle.throttle_count(scope="t", key="10.0.0.1", window=HOUR, limit=5) == 5


def test_clear_forgets_one_key_in_one_scope(db, clock):
    throttle.throttle_hit(scope="t", key="10.0.0.1")
    throttle.throttle_hit(scope="t", key="10.0.0.2")
    throttle.throttle_hit(scope="other", key="10.0.0.1")
    assert throttle.throttle_clear(scope="t", key="10.0.0.1") == 1
    assert ThrottleHit.objects.count() == 2


def test_a_window_longer_than_what_is_kept_is_refused(db, clock):
    with pytest.raises(ValueError):
        throttle.throttle_exceeded(scope="t", key="x", limit=1, window=timedelta(days=2))


def test_the_periodic_job_prunes_only_hits_older_than_a_day(db, clock):
    throttle.throttle_hit(scope="t", key="old")
    clock.shift(timedelta(hours=23))
    throttle.throttle_hit(scope="t", key="recent")
    clock.shift(timedelta(hours=2))
    prune_throttle_hits()
    assert list(ThrottleHit.objects.values_list("key", flat=True)) == [
        throttle.throttle_key("recent")
    ]
