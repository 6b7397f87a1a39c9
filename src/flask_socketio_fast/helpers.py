"""Context-aware functions for use inside Socket.IO handlers.

They default the client and namespace to those of the event being handled
(``request.sid`` and ``request.namespace``), so ``emit('reply', data)``
answers the sender.
"""

import flask


def _socketio():
    return flask.current_app.extensions['socketio']


def _namespace(kwargs):
    if 'namespace' in kwargs:
        return kwargs['namespace']
    return flask.request.namespace


def _recipients(kwargs):
    """Pop ``to``/``room``; default to the sender unless broadcasting."""
    to = kwargs.pop('to', None) or kwargs.pop('room', None)
    if to is None and not kwargs.get('broadcast'):
        to = flask.request.sid
    return to


def emit(event, *args, **kwargs):
    """Emit an event from a handler.

    Goes to the client that sent the current event unless ``to`` (a room,
    a sid or a list of them) or ``broadcast=True`` says otherwise.

    :param namespace: Defaults to the current event's namespace.
    :param callback: Called with the client's acknowledgement.
    :param include_self: ``False`` leaves the sender out of a room or
                         broadcast.
    :param skip_sid: A sid or list of sids to leave out.
    :param ignore_queue: Emit locally, bypassing a configured message queue.
    """
    namespace = _namespace(kwargs)
    to = _recipients(kwargs)
    return _socketio().emit(event, *args, namespace=namespace, to=to,
                            include_self=kwargs.get('include_self', True),
                            skip_sid=kwargs.get('skip_sid'),
                            callback=kwargs.get('callback'),
                            ignore_queue=kwargs.get('ignore_queue', False))


def send(message, **kwargs):
    """Send a ``message`` (or, with ``json=True``, a ``json``) event.

    Takes the same addressing arguments as :func:`emit`.
    """
    namespace = _namespace(kwargs)
    to = _recipients(kwargs)
    return _socketio().send(message, json=kwargs.get('json', False),
                            namespace=namespace, to=to,
                            include_self=kwargs.get('include_self', True),
                            skip_sid=kwargs.get('skip_sid'),
                            callback=kwargs.get('callback'),
                            ignore_queue=kwargs.get('ignore_queue', False))


def call(event, *args, **kwargs):
    """Emit to one client (default: the sender) and wait for its ack.

    :param timeout: Seconds to wait (default 60) before ``TimeoutError``.
    :return: The values the client acknowledged with.
    """
    namespace = _namespace(kwargs)
    to = kwargs.pop('to', None) or kwargs.pop('room', None)
    if to is None:
        to = flask.request.sid
    return _socketio().call(event, *args, namespace=namespace, to=to,
                            ignore_queue=kwargs.get('ignore_queue', False),
                            timeout=kwargs.get('timeout', 60))


def join_room(room, sid=None, namespace=None):
    """Put a client (default: the sender) in ``room``."""
    _socketio().server.enter_room(sid or flask.request.sid, room,
                                  namespace=namespace or
                                  flask.request.namespace)


def leave_room(room, sid=None, namespace=None):
    """Take a client (default: the sender) out of ``room``."""
    _socketio().server.leave_room(sid or flask.request.sid, room,
                                  namespace=namespace or
                                  flask.request.namespace)


def close_room(room, namespace=None):
    """Remove every client from ``room``."""
    _socketio().server.close_room(room, namespace=namespace or
                                  flask.request.namespace)


def rooms(sid=None, namespace=None):
    """The rooms a client (default: the sender) is in, its own sid room
    included."""
    return _socketio().server.rooms(sid or flask.request.sid,
                                    namespace=namespace or
                                    flask.request.namespace)


def disconnect(sid=None, namespace=None, silent=False):
    """Disconnect a client (default: the sender) from a namespace.

    ``silent`` is accepted for compatibility and has no effect.
    """
    return _socketio().server.disconnect(sid or flask.request.sid,
                                         namespace=namespace or
                                         flask.request.namespace)
