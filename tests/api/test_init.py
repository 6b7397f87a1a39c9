"""SocketIO construction: direct and factory style, option merging and forwarding, attributes."""
import flask
import pytest
import socketio as python_socketio

from .support import new_app


def test_direct_construction_attaches_to_app(mod):
    app = new_app()
    sio = mod.SocketIO(app, async_mode='threading')
    assert app.extensions['socketio'] is sio
    assert isinstance(sio.server, python_socketio.Server)
    # the WSGI app is wrapped so /socket.io/ reaches the Socket.IO server
    assert app.wsgi_app is sio.sockio_mw
    assert sio.async_mode == 'threading'
    assert sio.server.async_mode == 'threading'
    assert sio.manage_session is True


def test_default_async_mode_is_autodetected(mod):
    # eventlet is installed in this environment, and it is tried first
    app = new_app()
    sio = mod.SocketIO(app)
    assert sio.async_mode == sio.server.eio.async_mode == 'eventlet'


def test_without_app_nothing_is_built_until_init_app(mod):
    sio = mod.SocketIO(async_mode='threading', ping_interval=7)
    assert sio.server is None
    assert sio.server_options == {'async_mode': 'threading', 'ping_interval': 7}


def test_init_app_merges_constructor_and_init_app_options(mod):
    sio = mod.SocketIO(async_mode='threading', ping_interval=7, ping_timeout=3)
    app = new_app()
    sio.init_app(app, ping_timeout=9, cors_allowed_origins='*', manage_session=False)
    assert app.extensions['socketio'] is sio
    assert sio.server_options['async_mode'] == 'threading'
    assert sio.server_options['ping_interval'] == 7
    assert sio.server_options['ping_timeout'] == 9  # init_app wins
    assert sio.server_options['cors_allowed_origins'] == '*'
    assert 'manage_session' not in sio.server_options
    assert sio.manage_session is False
    assert sio.server.eio.ping_interval == 7
    assert sio.server.eio.ping_timeout == 9
    assert sio.server.eio.cors_allowed_origins == '*'


def test_manage_session_given_to_constructor_survives_factory(mod):
    sio = mod.SocketIO(manage_session=False, async_mode='threading')
    sio.init_app(new_app())
    assert sio.manage_session is False


def test_handlers_registered_before_init_app_are_kept(mod):
    sio = mod.SocketIO(async_mode='threading')

    @sio.on('early')
    def early(data):
        return 'early:' + data

    class Late(mod.Namespace):
        def on_ping(self, data):
            return 'pong:' + data

    sio.on_namespace(Late('/late'))
    app = new_app()
    sio.init_app(app)
    client = sio.test_client(app)
    client.connect('/late')
    assert client.emit('early', 'x', callback=True) == 'early:x'
    assert client.emit('ping', 'y', namespace='/late', callback=True) == 'pong:y'


def test_engineio_and_socketio_options_are_forwarded(mod):
    app = new_app()
    sio = mod.SocketIO(
        app, async_mode='threading', ping_interval=11, ping_timeout=4,
        max_http_buffer_size=1234, allow_upgrades=False, http_compression=False,
        compression_threshold=99, cookie='io_cookie', cors_allowed_origins=['http://a.test'],
        cors_credentials=False, monitor_clients=False, transports=['polling'],
        always_connect=True, namespaces=['/x'], async_handlers=False)
    eio = sio.server.eio
    assert eio.ping_interval == 11
    assert eio.ping_timeout == 4
    assert eio.max_http_buffer_size == 1234
    assert eio.allow_upgrades is False
    assert eio.http_compression is False
    assert eio.compression_threshold == 99
    assert eio.cookie == 'io_cookie'
    assert eio.cors_allowed_origins == ['http://a.test']
    assert eio.cors_credentials is False
    assert eio.start_service_task is False
    assert eio.transports == ['polling']
    assert sio.server.always_connect is True
    assert sio.server.namespaces == ['/x']
    assert sio.server.async_handlers is False


def test_loggers_are_forwarded(mod):
    import logging
    sio_logger = logging.getLogger('test.sio')
    eio_logger = logging.getLogger('test.eio')
    app = new_app()
    sio = mod.SocketIO(app, async_mode='threading', logger=sio_logger,
                       engineio_logger=eio_logger)
    assert sio.server.logger is sio_logger
    assert sio.server.eio.logger is eio_logger


def test_client_manager_is_forwarded(mod):
    manager = python_socketio.Manager()
    app = new_app()
    sio = mod.SocketIO(app, async_mode='threading', client_manager=manager)
    assert sio.server.manager is manager

    @sio.on('hi')
    def hi():
        mod.join_room('r')
        return 'ok'

    client = sio.test_client(app)
    assert client.emit('hi', callback=True) == 'ok'
    # the room lives in the manager that we gave
    assert 'r' in manager.rooms['/']


def test_message_queue_builds_a_pubsub_manager(mod):
    # kombu's in-memory transport needs no broker; the default channel name is documented
    emitter = mod.SocketIO(message_queue='memory://', async_mode='threading')
    manager = emitter.server.manager
    assert isinstance(manager, python_socketio.KombuManager)
    assert manager.channel == 'flask-socketio'
    assert manager.write_only is True  # no app: an external write-only emitter

    app = new_app()
    sio = mod.SocketIO(app, message_queue='memory://', channel='mine', async_mode='threading')
    assert isinstance(sio.server.manager, python_socketio.KombuManager)
    assert sio.server.manager.channel == 'mine'
    assert sio.server.manager.write_only is False
    assert 'channel' not in sio.server_options


@pytest.mark.parametrize('option', ['path', 'resource'])
def test_custom_path(mod, option):
    app = new_app()
    sio = mod.SocketIO(app, async_mode='threading', **{option: '/custom/io'})
    http = app.test_client()
    # the handshake is served on the custom path, the default path falls through to Flask
    ok = http.get('/custom/io/?EIO=4&transport=polling')
    assert ok.status_code == 200
    assert ok.get_data(as_text=True).startswith('0{')
    assert http.get('/socket.io/?EIO=4&transport=polling').status_code == 404
    assert sio.server is not None


def test_middleware_exposes_flask_app_and_falls_through(mod):
    app = new_app()

    @app.route('/hello')
    def hello():
        return 'world'

    sio = mod.SocketIO(app, async_mode='threading')
    http = app.test_client()
    assert http.get('/hello').get_data(as_text=True) == 'world'
    handshake = http.get('/socket.io/?EIO=4&transport=polling')
    assert handshake.status_code == 200
    assert handshake.get_data(as_text=True).startswith('0{')
    assert sio.sockio_mw.flask_app is app


def test_json_option_with_flask_json(mod):
    # Flask's json module depends on the app context; the documented option must still work.
    probe = mod.SocketIO(new_app(), async_mode='threading')
    packet_class = probe.server.packet_class
    before = packet_class.__dict__.get('json', None)
    try:
        app = new_app()
        sio = mod.SocketIO(app, async_mode='threading', json=flask.json)

        @sio.on('echo')
        def echo(data):
            mod.emit('echoed', data)
            return data

        client = sio.test_client(app)
        payload = {'a': [1, 2, {'b': None}], 'c': 'd\u00e9'}
        assert client.emit('echo', payload, callback=True) == payload
        assert client.get_received() == [
            {'name': 'echoed', 'args': [payload], 'namespace': '/'}]
        # outside any app context, encoding goes through the wrapper without error
        assert packet_class.json.loads(packet_class.json.dumps({'k': 1})) == {'k': 1}
    finally:
        if before is None:
            if 'json' in packet_class.__dict__ and packet_class is not python_socketio.packet.Packet:
                delattr(packet_class, 'json')
        else:
            packet_class.json = before


def test_reason_constants(mod):
    assert mod.SocketIO.reason.CLIENT_DISCONNECT == 'client disconnect'
    assert mod.SocketIO.reason.SERVER_DISCONNECT == 'server disconnect'
