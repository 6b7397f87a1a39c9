"""Class-based namespaces: ``on_<event>`` methods with Flask context."""

import socketio


class Namespace(socketio.Namespace):
    """Base class for class-based namespaces.

    Events received on the namespace are dispatched to the ``on_<event>``
    method, inside the same Flask request context a decorated handler gets.
    An optional ``error(exc)`` method handles exceptions that no
    ``on_error`` handler claimed; it runs inside the request context too, so
    ``request.sid`` and ``request.event`` are available there.
    """

    def __init__(self, namespace=None):
        super().__init__(namespace)
        self.socketio = None

    def _set_socketio(self, socketio):
        self.socketio = socketio

    def trigger_event(self, event, *args):
        """Dispatch an event to its ``on_<event>`` method, if there is one.

        Override this for custom dispatch rules (e.g. one method for every
        event).
        """
        handler = getattr(self, 'on_' + (event or ''), None)
        if handler is None:
            return None
        namespace = self.namespace
        if namespace == '*':
            # python-socketio passes the real namespace first for '*'
            namespace, args = args[0], args[1:]
        return self.socketio._dispatcher.handle(
            handler, event, namespace, args[0], args[1:],
            error_hook=getattr(self, 'error', None))

    def emit(self, event, data=None, room=None, include_self=True,
             namespace=None, callback=None):
        """Emit a custom event to one or more connected clients."""
        return self.socketio.emit(event, data, room=room,
                                  include_self=include_self,
                                  namespace=namespace or self.namespace,
                                  callback=callback)

    def send(self, data, room=None, include_self=True, namespace=None,
             callback=None):
        """Send a message to one or more connected clients."""
        return self.socketio.send(data, room=room, include_self=include_self,
                                  namespace=namespace or self.namespace,
                                  callback=callback)

    def close_room(self, room, namespace=None):
        """Close a room."""
        return self.socketio.close_room(room=room,
                                        namespace=namespace or self.namespace)
