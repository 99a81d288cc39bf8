"""The suite's two processes each get a Redis database of their own (tests/support/early_env.py)."""

from tests.support.early_env import redis_url_for_worker


def test_the_first_process_keeps_the_database_it_was_given():
    assert redis_url_for_worker("redis://127.0.0.1:6379/15", "gw0") == "redis://127.0.0.1:6379/15"


def test_the_second_process_takes_the_database_below():
    assert redis_url_for_worker("redis://127.0.0.1:6379/15", "gw1") == "redis://127.0.0.1:6379/14"


def test_near_database_zero_it_counts_upwards():
    assert redis_url_for_worker("redis://127.0.0.1:6379", "gw1") == "redis://127.0.0.1:6379/1"
    assert redis_url_for_worker("redis://:secret@127.0.0.1:6379/0?timeout=3", "gw2") == (
        "redis://:secret@127.0.0.1:6379/2?timeout=3"
    )


def test_a_single_process_run_and_other_brokers_are_left_alone():
    assert redis_url_for_worker("redis://127.0.0.1:6379/15", "") == "redis://127.0.0.1:6379/15"
    assert redis_url_for_worker("memory://", "gw1") == "memory://"
    assert redis_url_for_worker("filesystem://", "gw1") == "filesystem://"
