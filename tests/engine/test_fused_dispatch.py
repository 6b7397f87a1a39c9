"""The fused event dispatch of our socketio.Server (server.py) against
python-socketio's own chain, which the same server takes with the fused
path turned off: for any text an EVENT packet may carry, the same handler
calls, the same ack bytes, the same log lines and the same exception."""

import json
import logging

import flask
import pytest
from hypothesis import given, settings, strategies as st

from flask_socketio_fast import SocketIO
from flask_socketio_fast.server import Server


class _SocketStub:
    closed = False

    def __init__(self):
        self.sent = []

    def send_text(self, data):
        self.sent.append(data)

    def send(self, pkt):
        # binary packets come through python-engineio's send
        self.sent.append(pkt.data)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelname, record.getMessage()))


def _setup(fused, log):
    app = flask.Flask(__name__)
    sio = SocketIO(app, async_mode='threading', async_handlers=False,
                   logger=log)
    server = sio.server
    assert server.fast_paths['events'] == 'fused dispatch'
    server._fused_events = fused
    calls = []
    names = {}

    def named(sid, namespace):
        return names[server.manager.eio_sid_from_sid(sid, namespace)]

    def handler(event, namespace):
        def run(sid, *args):
            calls.append((event, namespace, named(sid, namespace), args))
            if event == 'boom':
                raise ValueError('boom', args)
            if event == 'none':
                return None
            if event == 'bin':
                return b'\x00\x01', args
            return args
        return run

    for namespace in ('/', '/chat'):
        for event in ('echo', 'none', 'bin', 'boom'):
            server.on(event, handler(event, namespace), namespace=namespace)
    server.on('*', lambda event, sid, *args: calls.append(
        ('*', '/chat', named(sid, '/chat'), (event,) + args)),
        namespace='/chat')
    stub = server.eio.sockets['e1'] = _SocketStub()
    names['e1'] = 'client'
    for namespace in ('/', '/chat'):
        server.manager.connect('e1', namespace)
    records = _Records()
    server.logger.addHandler(records)
    return server, calls, stub, records


def _outcome(fused, log, data):
    server, calls, stub, records = _setup(fused, log)
    try:
        try:
            server._handle_eio_message('e1', data)
            error = None
        except Exception as exc:
            error = (type(exc), str(exc))
    finally:
        server.logger.removeHandler(records)
    # sids are random per server: log lines name them
    sid = server.manager.sid_from_eio_sid('e1', '/')
    chat_sid = server.manager.sid_from_eio_sid('e1', '/chat')
    lines = [(level, text.replace(sid, '<sid>').replace(chat_sid, '<chat>'))
             for level, text in records.lines]
    return error, calls, stub.sent, lines


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) |
    st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) |
    st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)


@st.composite
def _event_packets(draw):
    namespace = draw(st.sampled_from(['', '/chat,', '/nope,']))
    ack_id = draw(st.sampled_from(['', '0', '7', '123']))
    event = draw(st.sampled_from(['echo', 'none', 'bin', 'boom', 'other']))
    args = draw(st.lists(_json_values, max_size=3))
    body = draw(st.sampled_from([
        json.dumps([event] + args), json.dumps(args), '', '{}', '"x"',
        '[', json.dumps([event] + args) + 'junk']))
    return '2' + namespace + ack_id + body


@pytest.mark.parametrize('log', [False, True])
@settings(max_examples=300, deadline=None)
@given(data=st.one_of(_event_packets(), st.text(max_size=20).map(
    lambda text: '2' + text)))
def test_fused_dispatch_matches_python_socketios(log, data):
    assert _outcome(True, log, data) == _outcome(False, log, data)


@pytest.mark.parametrize('data', [
    '2["echo",1,{"a":[2]}]', '21["echo","x"]', '2/chat,9["none"]',
    '2/chat,3["whatever",1]', '25["bin",1]', '2/nope,1["echo"]', '2',
    '2[]', '23["boom"]'])
def test_examples_match(data):
    fused = _outcome(True, True, data)
    assert fused == _outcome(False, True, data)


def test_an_ack_with_binary_data_is_a_binary_ack():
    error, calls, sent, _ = _outcome(True, False, '25["bin",1]')
    assert error is None
    assert sent == ['61-5[{"_placeholder":true,"num":0},[1]]',
                    b'\x00\x01']


def test_pooled_handlers_get_the_stock_task(monkeypatch):
    app = flask.Flask(__name__)
    sio = SocketIO(app, async_mode='threading')
    server = sio.server
    server.manager.connect('e1', '/')
    submitted = []
    monkeypatch.setattr(server._handler_pool, 'submit',
                        lambda fn, *args: submitted.append((fn, args)))
    server._handle_eio_message('e1', '21["echo","x"]')
    server._fused_events = False
    server._handle_eio_message('e1', '21["echo","x"]')
    assert len(submitted) == 2
    assert submitted[0] == submitted[1]
    fn, args = submitted[0]
    assert fn.__func__ is Server._handle_event_internal
    assert args[0] is server
    assert args[2:] == ('e1', ['echo', 'x'], '/', 1)


def test_a_spy_on_send_packet_sees_the_ack():
    # the test client and instrument() replace _send_packet on the instance
    server, calls, stub, _ = _setup(True, False)
    seen = []
    server._send_packet = lambda eio_sid, pkt: seen.append(pkt.encode())
    server._handle_eio_message('e1', '24["echo",1]')
    assert seen == ['34[1]']
    assert stub.sent == []


def test_a_users_json_module_takes_the_stock_chain(monkeypatch):
    used = []

    class UsersJSON:
        @staticmethod
        def loads(text, **kwargs):
            used.append('loads')
            return json.loads(text, **kwargs)

        @staticmethod
        def dumps(obj, **kwargs):
            used.append('dumps')
            return json.dumps(obj, **kwargs)

    server, calls, stub, _ = _setup(True, False)
    monkeypatch.setattr(server.packet_class, 'json', UsersJSON)
    server._handle_eio_message('e1', '24["echo",[1, 2]]')
    assert used == ['loads', 'dumps']
    assert stub.sent == ['34[[1,2]]']
    assert calls == [('echo', '/', 'client', ([1, 2],))]


def test_a_subclass_overriding_a_step_keeps_the_chain():
    seen = []

    class Mine(Server):
        def _handle_event(self, eio_sid, namespace, id, data):
            seen.append(data)
            return super()._handle_event(eio_sid, namespace, id, data)

    server = Mine(async_mode='threading', async_handlers=False)
    assert server.fast_paths['events'] == 'stock (_handle_event is overridden)'
    server.manager.connect('e1', '/')
    server.on('echo', lambda sid, *args: None)
    server._handle_eio_message('e1', '2["echo",1]')
    assert seen == [['echo', 1]]
