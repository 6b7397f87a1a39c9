"""Which python-socketio client manager serves a ``message_queue=`` URL.

Flask-SocketIO 5.7 only recognises ``redis://`` and ``rediss://`` as Redis
and hands every other unknown scheme to Kombu, so ``valkey://`` and
``redis+sentinel://`` URLs (which python-socketio's RedisManager supports)
end up in the wrong backend.  We route them by scheme instead; see
docs/differences.md.

The classes are python-socketio's queue managers with FastManager's local
fan-out under them (manager.py), or the plain ones on a python-socketio
whose manager protocol FastManager does not implement.
"""

import socketio

from . import manager as _fast

# scheme (the part before "://", lower-cased) -> manager attribute name
_REDIS_SCHEMES = frozenset({
    'redis', 'rediss', 'unix',
    'valkey', 'valkeys',
    'redis+sentinel', 'valkey+sentinel',
})


def _scheme(url):
    head, sep, _ = url.partition('://')
    # a bare host name is Kombu's (an AMQP broker), as in Flask-SocketIO
    return head.lower() if sep else ''


def manager_class_for_url(url):
    """Return the manager class that handles ``url`` (a subclass of the
    python-socketio manager for that queue)."""
    scheme = _scheme(url)
    fast = _fast.fast_manager_supported()
    if scheme in _REDIS_SCHEMES:
        return _fast.FastRedisManager if fast else socketio.RedisManager
    if scheme == 'kafka':
        return _fast.FastKafkaManager if fast else socketio.KafkaManager
    if scheme.startswith('zmq'):
        return _fast.FastZmqManager if fast else socketio.ZmqManager
    return _fast.FastKombuManager if fast else socketio.KombuManager


def make_queue_manager(url, channel, write_only):
    """Build the manager for ``url``; ``write_only`` is for emitter processes."""
    manager_class = manager_class_for_url(url)
    return manager_class(url, channel=channel, write_only=write_only)
