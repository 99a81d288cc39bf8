"""A Redis channel whose broker connection was released (a worker reconnected after Redis
restarted) answers every command with a broker connection error, which Celery recovers from,
never with an AttributeError that stops the worker (reviewhub/celery.py)."""

from __future__ import annotations

import shutil

import pytest
from kombu import Connection, Queue

import reviewhub.celery  # noqa: F401 - installs the guard
from tests.support.services import RedisServer

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.fixture
def released_channel_messages(tmp_path):
    """Two unacknowledged messages whose channel then lost its connection, as after a reconnect."""
    server = RedisServer(tmp_path)
    server.start()
    connection = Connection(server.url)
    try:
        queue = Queue("released-channel")
        with connection.Producer() as producer:
            for n in range(2):
                producer.publish({"n": n}, routing_key=queue.name, declare=[queue])
        channel = connection.channel()
        messages = [queue(channel).get(no_ack=False) for _ in range(2)]
        assert all(messages) and channel.qos._delivered
        # What closing the channel leaves once the connection is released: no transport, no pool.
        connection._do_close_transport()
        channel.close()
        assert channel.connection is None
        yield connection, channel, messages
    finally:
        server.stop()


def test_it_answers_a_connection_error_to_an_ack_a_reject_and_a_requeue_on_a_released_channel(
    released_channel_messages,
):
    connection, channel, (first, second) = released_channel_messages
    errors = Connection("redis://").connection_errors
    with pytest.raises(errors):
        first.ack()
    with pytest.raises(errors):
        first.reject()
    with pytest.raises(errors):
        second.requeue()
    with pytest.raises(errors):
        channel.qos.restore_visible(interval=1)


def test_it_skips_putting_messages_back_when_the_channel_was_released(released_channel_messages):
    _, channel, _ = released_channel_messages
    assert channel.qos.restore_unacked() is None
