"""Options every gRPC channel of the project opens with.

gRPC reconnects a channel whose server went away with exponential backoff, by default up to
**120 s** between attempts: after an outage of a few minutes, the API (or the git service's
hook clients) could keep failing for up to two more minutes after the other side is back.
Services here restart in seconds, so the backoff starts at 200 ms and stops growing at 2 s:
a restarted git service or API is found again within about two seconds, at the cost of a
connection attempt every two seconds while it is down (cheap on a local network).

And a call made while the channel is between attempts would fail at once with
``UNAVAILABLE``, even if the server came back a moment ago: clients first wait up to
``READY_WAIT`` for the channel to connect (``ready`` / ``ready_sync``; free when it is).
"""

from __future__ import annotations

import asyncio

import grpc

RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]

UNLIMITED_MESSAGES = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]

# How long a call waits for a channel that is not connected (yet, or any more) to connect
# before it fails as unavailable: long enough to ride out a restart of the other side (with
# the backoff above, a server that is back is found within ~2 s), short enough that an
# outage is reported in seconds rather than at the call's own (often long) deadline.
READY_WAIT = 5.0


async def ready(channel: grpc.aio.Channel, wait: float = READY_WAIT) -> bool:
    """True once ``channel`` is connected (at once when it is), False after ``wait`` s."""
    if channel.get_state(try_to_connect=True) is grpc.ChannelConnectivity.READY:
        return True
    try:
        await asyncio.wait_for(channel.channel_ready(), wait)
    except TimeoutError:
        return False
    return True


def ready_sync(channel: grpc.Channel, wait: float = READY_WAIT) -> bool:
    """``ready`` for a synchronous channel (blocks the calling thread up to ``wait`` s)."""
    try:
        grpc.channel_ready_future(channel).result(timeout=wait)
    except grpc.FutureTimeoutError:
        return False
    return True
