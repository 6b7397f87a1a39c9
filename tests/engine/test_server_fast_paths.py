"""Our socketio.Server subclass: which fast paths it takes, and that they
keep python-socketio's behaviour."""

import threading

import flask

from flask_socketio_fast import SocketIO
from flask_socketio_fast.server import Server


def _app():
    app = flask.Flask(__name__)
    app.config['SECRET_KEY'] = 'k'
    return app


def test_threading_mode_pools_event_handlers():
    sio = SocketIO(_app(), async_mode='threading')
    assert isinstance(sio.server, Server)
    assert sio.server.fast_paths['handlers'].startswith('pooled threads')
    ran = threading.Event()
    names = []

    def handler_internal():
        names.append(threading.current_thread().name)
        ran.set()

    sio.server._handler_pool.submit(handler_internal)
    assert ran.wait(10)
    assert names == ['socketio-handler']


def test_event_handlers_go_to_the_pool(monkeypatch):
    sio = SocketIO(_app(), async_mode='threading')
    submitted = []
    monkeypatch.setattr(sio.server._handler_pool, 'submit',
                        lambda fn, *args: submitted.append((fn, args)))
    sio.server.start_background_task(sio.server._handle_event_internal,
                                     1, 2, 3)
    assert len(submitted) == 1
    assert submitted[0][0].__func__ is Server._handle_event_internal


def test_other_background_tasks_still_get_their_own_thread():
    sio = SocketIO(_app(), async_mode='threading')
    done = threading.Event()
    task = sio.start_background_task(done.set)
    task.join(10)
    assert done.is_set()
    assert isinstance(task, threading.Thread)


def test_bound_is_configurable():
    sio = SocketIO(_app(), async_mode='threading', max_handler_threads=4)
    assert sio.server._handler_pool.max_workers == 4
    assert 'max_handler_threads' not in vars(sio.server.eio)


def test_greenlet_modes_pool_event_handlers():
    sio = SocketIO(_app(), async_mode='eventlet')
    assert sio.server._handler_pool is not None
    assert sio.server.fast_paths['handlers'] == 'pooled greenlets'


def test_inline_handlers_need_no_pool():
    sio = SocketIO(_app(), async_mode='threading', async_handlers=False)
    assert sio.server._handler_pool is None
    assert sio.server.fast_paths['handlers'].startswith('inline')


class _SocketStub:
    closed = False

    def __init__(self):
        self.texts = []

    def send_text(self, data):
        self.texts.append(data)


def _ack(server, data):
    return server.packet_class(3, namespace='/', id=7, data=data)


def test_a_packet_to_one_client_goes_to_the_engine_as_text():
    sio = SocketIO(_app(), async_mode='threading')
    server = sio.server
    assert server.fast_paths['sends'] == 'direct'
    stub = server.eio.sockets['eio1'] = _SocketStub()
    server._send_packet('eio1', _ack(server, ['a', {'b': 1}]))
    assert stub.texts == [_ack(server, ['a', {'b': 1}]).encode()]


def test_a_spy_on_the_engines_send_still_sees_every_packet():
    sio = SocketIO(_app(), async_mode='threading')
    server = sio.server
    stub = server.eio.sockets['eio1'] = _SocketStub()
    seen = []
    server.eio.send = lambda sid, data: seen.append((sid, data))
    server._send_packet('eio1', _ack(server, ['x']))
    assert seen == [('eio1', _ack(server, ['x']).encode())]
    assert stub.texts == []


def test_binary_packets_and_unknown_sids_take_the_stock_send(monkeypatch):
    sio = SocketIO(_app(), async_mode='threading')
    server = sio.server
    sent = []
    server.eio.send_packet = lambda sid, pkt: sent.append((sid, pkt.data))
    server._send_packet('eio1', _ack(server, [b'\x01\x02']))
    assert [data for _, data in sent] == [
        _ack(server, [b'\x01\x02']).encode()[0], b'\x01\x02']
    del server.eio.send_packet
    # no such session: python-engineio's warning, nothing raised
    warnings = []
    monkeypatch.setattr(server.eio.logger, 'warning',
                        lambda msg, *args: warnings.append(msg % args))
    server.eio.send_text('nobody', '3x')
    assert warnings == ['Cannot send to sid nobody']


def test_the_broadcast_loop_still_takes_the_frame_path():
    from flask_socketio_fast.manager import _hooks_are_stock
    sio = SocketIO(_app(), async_mode='threading')
    assert _hooks_are_stock(sio.server)
    sio.server._send_packet = lambda eio_sid, pkt: None
    assert not _hooks_are_stock(sio.server)
