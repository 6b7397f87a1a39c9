"""An in-process Socket.IO client for testing applications, no sockets.

It feeds packets straight into the python-socketio server and captures what
the server sends by replacing the server's ``_send_packet`` and
``_send_eio_packet`` hooks on the instance.  Fast paths elsewhere in the
package detect that replacement and route every packet through these hooks.
"""

import uuid

from flask.testing import EnvironBuilder
from socketio import packet
from socketio.pubsub_manager import PubSubManager


class SocketIOTestClient:
    """Test client for a Flask-SocketIO application.

    :param app: The Flask application.
    :param socketio: The application's ``SocketIO`` instance.
    :param namespace: Namespace to connect to (default ``'/'``).
    :param query_string: Query string for the connection request.
    :param headers: Dictionary of HTTP headers for the connection request.
    :param auth: Authentication data (a dictionary) sent with the connect.
    :param flask_test_client: A Flask test client whose cookies (and so the
                              Flask user session) are sent with the
                              connection request.
    """

    # every test client of the process, by Engine.IO sid: the replaced hooks
    # are per server, so they look up which client a packet is for
    clients = {}

    def __init__(self, app, socketio, namespace=None, query_string=None,
                 headers=None, auth=None, flask_test_client=None):
        self.app = app
        self.flask_test_client = flask_test_client
        self.eio_sid = uuid.uuid4().hex
        self.clients[self.eio_sid] = self
        self.callback_counter = 0
        self.socketio = socketio
        self.connected = {}
        self.queue = []
        self.acks = None
        server = socketio.server
        if isinstance(server.manager, PubSubManager):
            raise RuntimeError('Test client cannot be used with a message '
                               'queue. Disable the queue on your test '
                               'configuration.')
        _install_capture_hooks(server)
        server.environ[self.eio_sid] = {}
        # handlers run inline, so an emit() returns with its effects done
        server.async_handlers = False
        server.eio.async_handlers = False
        server.manager.initialize()
        self.connect(namespace=namespace, query_string=query_string,
                     headers=headers, auth=auth)

    def _receive(self, pkt):
        """Record one packet the server sent to this client."""
        namespace = pkt.namespace or '/'
        if pkt.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            name = pkt.data[0]
            if name in ('message', 'json'):
                args = pkt.data[1]
            else:
                args = pkt.data[1:]
            self.queue.append({'name': name, 'args': args,
                               'namespace': namespace})
        elif pkt.packet_type in (packet.ACK, packet.BINARY_ACK):
            self.acks = {'args': pkt.data, 'namespace': namespace}
        elif pkt.packet_type in (packet.DISCONNECT, packet.CONNECT_ERROR):
            self.connected[namespace] = False

    def is_connected(self, namespace=None):
        """Whether ``namespace`` (default ``'/'``) is connected."""
        return self.connected.get(namespace or '/', False)

    def connect(self, namespace=None, query_string=None, headers=None,
                auth=None):
        """Connect to ``namespace``.

        The constructor already connects; call this for more namespaces.
        """
        url = '/socket.io'
        namespace = namespace or '/'
        if query_string:
            if query_string[0] != '?':
                query_string = '?' + query_string
            url += query_string
        if self.flask_test_client:
            # the Flask test client builds the environ, so its cookies and
            # defaults (e.g. environ_base) apply
            req = self.flask_test_client._request_from_builder_args(
                args=(), kwargs={'path': url, 'headers': headers})
            environ = req.environ
            if hasattr(self.flask_test_client, '_add_cookies_to_wsgi'):
                self.flask_test_client._add_cookies_to_wsgi(environ)
            else:  # pragma: no cover - Flask < 2.3
                self.flask_test_client.cookie_jar.inject_wsgi(environ)
        else:
            environ = EnvironBuilder(self.app, path=url,
                                     headers=headers).get_environ()
        environ['flask.app'] = self.app
        server = self.socketio.server
        server._handle_eio_connect(self.eio_sid, environ)
        pkt = server.packet_class(packet.CONNECT, auth, namespace=namespace)
        server._handle_eio_message(self.eio_sid, pkt.encode())
        if server.manager.sid_from_eio_sid(self.eio_sid, namespace):
            self.connected[namespace] = True

    def disconnect(self, namespace=None):
        """Disconnect from ``namespace`` (default ``'/'``)."""
        if not self.is_connected(namespace):
            raise RuntimeError('not connected')
        server = self.socketio.server
        pkt = server.packet_class(packet.DISCONNECT, namespace=namespace)
        server._handle_eio_message(self.eio_sid, pkt.encode())
        del self.connected[namespace or '/']

    def emit(self, event, *args, **kwargs):
        """Emit an event to the server.

        :param callback: ``True`` to request an acknowledgement; the
                         arguments the server acknowledges with are then
                         returned (one value alone, several as a list).
        :param namespace: The event's namespace (default ``'/'``).
        """
        namespace = kwargs.pop('namespace', None)
        if not self.is_connected(namespace):
            raise RuntimeError('not connected')
        ack_id = None
        if kwargs.pop('callback', False):
            self.callback_counter += 1
            ack_id = self.callback_counter
        server = self.socketio.server
        pkt = server.packet_class(packet.EVENT, data=[event] + list(args),
                                  namespace=namespace, id=ack_id)
        encoded = pkt.encode()
        for part in encoded if isinstance(encoded, list) else (encoded,):
            server._handle_eio_message(self.eio_sid, part)
        if self.acks is not None:
            ack, self.acks = self.acks, None
            return ack['args'][0] if len(ack['args']) == 1 else ack['args']

    def send(self, data, json=False, callback=False, namespace=None):
        """Send a ``message`` (text) or, with ``json=True``, a ``json``
        event."""
        return self.emit('json' if json else 'message', data,
                         callback=callback, namespace=namespace)

    def get_received(self, namespace=None):
        """Return and forget the events received on ``namespace``."""
        if not self.is_connected(namespace):
            raise RuntimeError('not connected')
        namespace = namespace or '/'
        received = [p for p in self.queue if p['namespace'] == namespace]
        self.queue = [p for p in self.queue if p['namespace'] != namespace]
        return received


def _install_capture_hooks(server):
    """Route everything ``server`` sends to the test clients' queues.

    Each outgoing packet is encoded and decoded again, so data that would
    not survive the wire (e.g. unserializable objects, tuples) behaves as it
    would with a real client.
    """
    packet_class = server.packet_class

    def send_packet(eio_sid, pkt):
        encoded = pkt.encode()
        if isinstance(encoded, list):
            pkt = packet_class(encoded_packet=encoded[0])
            for attachment in encoded[1:]:
                pkt.add_attachment(attachment)
        else:
            pkt = packet_class(encoded_packet=encoded)
        client = SocketIOTestClient.clients.get(eio_sid)
        if client is not None:
            client._receive(pkt)

    # a binary packet arrives here as its header then one Engine.IO packet
    # per attachment; reassemble per client
    partial = {}

    def send_eio_packet(eio_sid, eio_pkt):
        pkt = partial.get(eio_sid)
        if pkt is not None:
            if pkt.add_attachment(eio_pkt.data):
                del partial[eio_sid]
                send_packet(eio_sid, pkt)
            return
        pkt = packet_class(encoded_packet=eio_pkt.data)
        if pkt.attachment_count == 0:
            send_packet(eio_sid, pkt)
        else:
            partial[eio_sid] = pkt

    server._send_packet = send_packet
    server._send_eio_packet = send_eio_packet
