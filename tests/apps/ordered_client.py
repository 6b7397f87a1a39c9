"""python-socketio's client, with its messages handled in arrival order.

python-engineio's client runs the handler of every inbound message on a new
thread (``_trigger_event('message', ..., run_async=True)``), so two events
or acks that arrive back to back can reach the test's callbacks in either
order.  Tests that assert the order the server sent things in use this
client, whose messages are handled on its reading thread, one after the
other.  (A handler that waits for the server, e.g. with ``call()``, would
stall that thread: the tests that use it do not do that.)
"""

import socketio


def ordered_client(**options):
    client = socketio.Client(**options)
    eio = client.eio
    trigger = eio._trigger_event

    def in_order(event, *args, **kwargs):
        if event == 'message':
            kwargs['run_async'] = False
        return trigger(event, *args, **kwargs)

    eio._trigger_event = in_order
    return client
