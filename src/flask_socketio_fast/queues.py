"""Which python-socketio client manager serves a ``message_queue=`` URL.

Flask-SocketIO 5.7 only recognises ``redis://`` and ``rediss://`` as Redis
and hands every other unknown scheme to Kombu, so ``valkey://`` and
``redis+sentinel://`` URLs (which python-socketio's RedisManager supports)
end up in the wrong backend.  We route them by scheme instead; see
docs/differences.md.
"""

import socketio

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
    """Return the python-socketio manager class that handles ``url``."""
    scheme = _scheme(url)
    if scheme in _REDIS_SCHEMES:
        return socketio.RedisManager
    if scheme == 'kafka':
        return socketio.KafkaManager
    if scheme.startswith('zmq'):
        return socketio.ZmqManager
    return socketio.KombuManager


def make_queue_manager(url, channel, write_only):
    """Build the manager for ``url``; ``write_only`` is for emitter processes."""
    manager_class = manager_class_for_url(url)
    return manager_class(url, channel=channel, write_only=write_only)
