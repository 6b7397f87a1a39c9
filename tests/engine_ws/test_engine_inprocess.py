"""Our engine server driven in-process through WSGI (Werkzeug's test
client): polling behaviour, instrument() routing, the fan-out API on a
polling socket, and the stock fallback."""

import json
import subprocess
import sys

import flask
import pytest
from werkzeug.test import Client

from flask_socketio_fast import SocketIO
from flask_socketio_fast.engine.server import EngineServer
from flask_socketio_fast.engine.socket import _patched

from .servers import child_env

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def app_and_sio():
    app = flask.Flask(__name__)
    sio = SocketIO(app, async_mode='threading', max_polling_packets=5)

    @sio.on('echo')
    def echo(data):
        return data

    yield app, sio
    sio.server.eio.shutdown()


def handshake(client):
    r = client.get('/socket.io/?EIO=4&transport=polling')
    assert r.status_code == 200
    sid = json.loads(r.get_data(as_text=True)[1:])['sid']
    return f'/socket.io/?EIO=4&transport=polling&sid={sid}', sid


def test_polling_session_and_packet_bound(app_and_sio):
    app, sio = app_and_sio
    assert isinstance(sio.server.eio, EngineServer)
    client = Client(app)
    url, sid = handshake(client)
    assert client.post(url, data='40').status_code == 200
    assert client.get(url).get_data(as_text=True).startswith('40')
    body = '\x1e'.join(f'42{i}["echo",{i}]' for i in range(5))
    assert client.post(url, data=body).status_code == 200
    acks = []
    while len(acks) < 5:   # handlers run on worker threads: acks trickle
        acks += client.get(url).get_data(as_text=True).split('\x1e')
    assert sorted(acks) == [f'43{i}[{i}]' for i in range(5)]
    assert sio.server.eio.sockets[sid].frame_sink is None
    # one over the configured bound: refused, session closed
    body = '\x1e'.join(['42["echo",1]'] * 6)
    assert client.post(url, data=body).status_code == 400
    assert sid not in sio.server.eio.sockets


def test_rejection_is_immediate_under_instrument(app_and_sio):
    app, sio = app_and_sio
    admin = sio.server.instrument(auth=False, mode='production')
    try:
        assert _patched('handle_post_request')
        assert _patched('_websocket_handler')
        client = Client(app)
        url, sid = handshake(client)
        # instrument()'s wrapper runs, and then our implementation, which
        # answers at once (python-engineio's would wait for a GET)
        assert client.post(url, data='2').status_code == 400
        assert sid not in sio.server.eio.sockets
        # and the WebSocket path leaves instrumented servers to the stock
        # handler, which the admin UI watches
        assert sio.server.eio._ws_prepare({}) is None
    finally:
        admin.uninstrument()
    assert not _patched('handle_post_request')


def test_stock_engine_when_asked():
    code = ('import flask; from flask_socketio_fast import SocketIO; '
            's = SocketIO(flask.Flask("x"), async_mode="threading"); '
            'print(type(s.server.eio).__module__, '
            's.server.fast_paths["engine"])')
    env = child_env()
    env['FLASK_SOCKETIO_FAST_STOCK_ENGINE'] = '1'
    out = subprocess.run([sys.executable, '-c', code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('engineio.server stock engine.io')


def test_disconnecting_a_polling_client_that_never_polls_returns():
    app = flask.Flask(__name__)
    sio = SocketIO(app, async_mode='threading', websocket_close_timeout=0.3)
    try:
        client = Client(app)
        url, sid = handshake(client)
        # python-engineio waits here until a GET takes the CLOSE packet
        sio.server.eio.disconnect(sid)
        assert sid not in sio.server.eio.sockets
        assert client.get(url).status_code == 400
    finally:
        sio.server.eio.shutdown()
