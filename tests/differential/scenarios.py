"""Scenario apps for the differential suite.

Each scenario is ``fn(mod, rec)``: it builds its app with ``rec.build()`` using only ``mod``'s
public API, registers handlers that report what they see through ``rec.note()``, and drives
named clients through ``rec``. The same function runs once per implementation; the recordings
must be equal. Known, documented differences (docs/differences.md) are left out here and
covered by tests/api/test_upstream_bugs.py.
"""
import flask

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def _resolve(rec, value):
    """Specs name clients ('sid:b' or 'sid:b:/chat'); handlers need the real sids."""
    if isinstance(value, str) and value.startswith('sid:'):
        parts = value.split(':', 2)
        return rec.sid(parts[1], parts[2] if len(parts) > 2 else '/')
    if isinstance(value, list):
        return [_resolve(rec, v) for v in value]
    return value


def _kwargs(rec, spec):
    return {k: _resolve(rec, v) for k, v in spec.items() if k != 'fn'}


def _rooms_app(mod, rec, **options):
    """Four clients a-d on '/' and '/chat', in rooms: a{r1} b{r1,r2} c{r2} d{} (same in /chat)."""
    app, sio = rec.build(namespaces=['/', '/chat', '/news'], **options)

    def join(*rooms):
        for room in rooms:
            mod.join_room(room)
        return rec.sort_rooms(mod.rooms())

    sio.on_event('join', join)
    sio.on_event('join', join, namespace='/chat')
    for name in 'abcd':
        rec.client(name)
        rec.connect(name, '/chat')
    for name, rooms in (('a', ['r1']), ('b', ['r1', 'r2']), ('c', ['r2'])):
        rec.emit(name, 'join', *rooms)
        rec.emit(name, 'join', *rooms, namespace='/chat')
    return app, sio


HANDLER_SPECS = [
    {},
    {'broadcast': True},
    {'broadcast': True, 'include_self': False},
    {'broadcast': False},
    {'to': 'r1'},
    {'room': 'r2'},
    {'to': 'r1', 'room': 'r2'},
    {'to': ['r1', 'r2']},
    {'to': ['r2', 'sid:d']},
    {'to': 'r1', 'include_self': False},
    {'to': ['r1', 'r2'], 'include_self': False},
    {'to': 'r2', 'include_self': True},
    {'include_self': False},
    {'broadcast': True, 'skip_sid': 'sid:b'},
    {'broadcast': True, 'skip_sid': ['sid:a', 'sid:c']},
    {'to': 'r2', 'skip_sid': 'sid:c'},
    {'to': 'r1', 'skip_sid': 'sid:a', 'include_self': False},
    {'to': 'sid:c'},
    {'to': ['sid:c', 'sid:d']},
    {'to': 'no-such-room'},
    {'to': []},
    {'namespace': '/chat', 'broadcast': True},
    {'namespace': '/chat'},
    {'namespace': '/chat', 'to': 'r1'},
    {'namespace': '/chat', 'to': 'sid:b:/chat'},
    {'namespace': '/chat', 'broadcast': True, 'include_self': False},
    {'namespace': '/news', 'broadcast': True},
    {'namespace': '/', 'broadcast': True},
]


@scenario
def emit_helper_addressing_matrix(mod, rec):
    app, sio = _rooms_app(mod, rec)

    @sio.on('fan')
    def fan(index, data):
        spec = HANDLER_SPECS[index]
        mod.emit('fanned', (index, data), **_kwargs(rec, spec))
        return index

    for index in range(len(HANDLER_SPECS)):
        for sender in ('a', 'b', 'd'):
            rec.emit(sender, 'fan', index, {'from': sender})


@scenario
def send_helper_addressing_matrix(mod, rec):
    app, sio = _rooms_app(mod, rec)

    @sio.on('fan')
    def fan(index, as_json):
        spec = HANDLER_SPECS[index]
        payload = {'i': index} if as_json else 'text %d' % index
        mod.send(payload, json=as_json, **_kwargs(rec, spec))

    for index in range(len(HANDLER_SPECS)):
        rec.emit('b', 'fan', index, False)
        rec.emit('a', 'fan', index, True)


@scenario
def emit_helper_from_chat_namespace(mod, rec):
    app, sio = _rooms_app(mod, rec)

    @sio.on('fan', namespace='/chat')
    def fan(index):
        mod.emit('fanned', index, **_kwargs(rec, HANDLER_SPECS[index]))

    for index in range(len(HANDLER_SPECS)):
        rec.emit('c', 'fan', index, namespace='/chat')


SERVER_SPECS = [
    {},
    {'to': 'r1'},
    {'room': 'r2'},
    {'to': ['r1', 'r2']},
    {'to': 'sid:c'},
    {'to': ['sid:a', 'r2']},
    {'skip_sid': 'sid:b'},
    {'skip_sid': ['sid:a', 'sid:d']},
    {'to': 'r2', 'skip_sid': 'sid:b'},
    {'to': 'nobody'},
    {'namespace': '/chat'},
    {'namespace': '/chat', 'to': 'r1'},
    {'namespace': '/chat', 'skip_sid': 'sid:a:/chat'},
    {'namespace': '/news'},
    {'namespace': '/unknown'},
]


@scenario
def server_emit_and_send_matrix(mod, rec):
    app, sio = _rooms_app(mod, rec)
    for index, spec in enumerate(SERVER_SPECS):
        rec.server(('emit', index), lambda: sio.emit('srv', index, **_kwargs(rec, spec)))
        rec.server(('emit tuple', index),
                   lambda: sio.emit('srv', (index, 'x', None), **_kwargs(rec, spec)))
        rec.server(('send', index), lambda: sio.send('m%d' % index, **_kwargs(rec, spec)))
        rec.server(('send json', index),
                   lambda: sio.send({'m': index}, json=True, **_kwargs(rec, spec)))


@scenario
def server_emit_from_handler(mod, rec):
    # socketio.emit/send (not the helpers) called inside a handler, including include_self
    app, sio = _rooms_app(mod, rec)

    @sio.on('srv')
    def srv(index, include_self):
        kwargs = _kwargs(rec, SERVER_SPECS[index])
        sio.emit('srv-emit', index, include_self=include_self, **kwargs)
        sio.send('srv-send', include_self=include_self, **kwargs)

    for index in range(len(SERVER_SPECS)):
        rec.emit('b', 'srv', index, True)
        rec.emit('b', 'srv', index, False)


@scenario
def namespace_class_methods_matrix(mod, rec):
    app, sio = rec.build()

    class Room(mod.Namespace):
        def on_join(self, room):
            self.enter_room(flask.request.sid, room)
            return rec.sort_rooms(self.rooms(flask.request.sid))

        def on_leave(self, room):
            self.leave_room(flask.request.sid, room)

        def on_emit(self, spec):
            kwargs = _kwargs(rec, spec)
            self.emit('ns-emit', spec, **kwargs)
            self.send('ns-send', **kwargs)

        def on_close(self, room):
            self.close_room(room)

        def on_kick(self, who):
            self.disconnect(_resolve(rec, who))

        def on_disconnect(self, reason):
            rec.note('disconnect', flask.request.sid, reason)

    sio.on_namespace(Room('/room'))
    for name in 'abc':
        rec.client(name, namespace='/room')
    rec.emit('a', 'join', 'x', namespace='/room')
    rec.emit('b', 'join', 'x', namespace='/room')
    rec.emit('c', 'join', 'y', namespace='/room')
    for spec in [{}, {'room': 'x'}, {'room': 'y'}, {'include_self': False},
                 {'room': 'x', 'include_self': False}, {'namespace': '/'},
                 {'room': 'sid:c:/room'}]:
        rec.emit('a', 'emit', spec, namespace='/room')
    rec.emit('b', 'leave', 'x', namespace='/room')
    rec.emit('c', 'emit', {'room': 'x'}, namespace='/room')
    rec.emit('c', 'close', 'x', namespace='/room')
    rec.emit('c', 'emit', {'room': 'x'}, namespace='/room')
    rec.emit('a', 'kick', 'sid:b:/room', namespace='/room')
    rec.emit('a', 'kick', 'sid:a:/room', namespace='/room')


@scenario
def rooms_edge_cases(mod, rec):
    app, sio = rec.build()

    @sio.on('op')
    def op(name, *args):
        sid = flask.request.sid
        ops = {
            'join': lambda room: mod.join_room(room),
            'join_for': lambda room, who: mod.join_room(room, sid=_resolve(rec, who)),
            'leave': lambda room: mod.leave_room(room),
            'leave_own': lambda: mod.leave_room(sid),
            'join_own': lambda: mod.join_room(sid),
            'close': lambda room: mod.close_room(room),
            'close_own': lambda: mod.close_room(sid),
            'rooms_of': lambda who: rec.sort_rooms(mod.rooms(sid=_resolve(rec, who))),
            'rooms': lambda: rec.sort_rooms(mod.rooms()),
        }
        try:
            result = ops[name](*args)
        except Exception as exc:
            rec.note('op raised', name, type(exc).__name__, str(exc))
            return 'raised'
        return result

    for name in 'ab':
        rec.client(name)
    steps = [
        ('a', 'join', 'r'), ('a', 'join', 'r'), ('a', 'rooms'), ('a', 'join', 5),
        ('a', 'join_for', 'r2', 'sid:b'), ('b', 'rooms'), ('a', 'join_for', 'sid:b', 'sid:a'),
        ('a', 'join_own'), ('a', 'rooms'), ('a', 'close_own'), ('a', 'leave', 'never'),
        ('a', 'close', 'never'), ('a', 'rooms_of', 'sid:b'), ('b', 'close', 'r2'),
        ('b', 'rooms'), ('a', 'leave_own'), ('a', 'rooms'), ('b', 'close', 'r'),
        ('a', 'rooms'),
    ]
    for sender, *args in steps:
        rec.emit(sender, 'op', *args)
    rec.server('emit to own room after leaving it', lambda: sio.emit('x', to=rec.sid('a')))
    rec.server('close room from outside', lambda: sio.close_room('r'))


@scenario
def cross_namespace_reply_to_sender(mod, rec):
    # a reply to another namespace without 'to' targets this namespace's sid there
    app, sio = rec.build(namespaces=['/', '/chat'])

    @sio.on('go')
    def go(data):
        mod.emit('resp', data, namespace='/chat')
        mod.send('msg', namespace='/chat')
        mod.emit('resp-own', data)
        return mod.rooms(namespace='/chat') if data == 'rooms' else None

    rec.client('a')
    rec.connect('a', '/chat')
    rec.client('b', namespace='/chat')
    rec.emit('a', 'go', 1)
    rec.emit('a', 'go', 'rooms')


@scenario
def connect_variants(mod, rec):
    app, sio = rec.build(namespaces=['/', '/open'])

    @sio.on('connect')
    def connect(auth):
        rec.note('connect /', flask.request.sid, auth, flask.request.args.get('q'))
        mode = (auth or {}).get('mode')
        if mode == 'false':
            return False
        if mode == 'none':
            return None
        if mode == 'true':
            return True
        if mode == 'refuse':
            raise mod.ConnectionRefusedError(*auth.get('args', []))
        if mode == 'emit':
            mod.emit('welcome', auth)
            mod.join_room('welcomed')
        if mode == 'error':
            raise RuntimeError('connect exploded')
        return 'anything'

    @sio.on('connect', namespace='/legacy')
    def legacy():
        rec.note('legacy connect', flask.request.namespace)

    @sio.on('disconnect')
    def disconnect(reason):
        rec.note('disconnect /', flask.request.sid, reason)

    for i, auth in enumerate([
            None, {'mode': 'false'}, {'mode': 'none'}, {'mode': 'true'},
            {'mode': 'refuse'}, {'mode': 'refuse', 'args': ['one']},
            {'mode': 'refuse', 'args': ['two', {'x': 1}]},
            {'mode': 'refuse', 'args': ['three', 1, [2]]},
            {'mode': 'refuse', 'args': [42]},
            {'mode': 'emit', 'hello': 'there'}, {'mode': 'error'}]):
        rec.client('c%d' % i, auth=auth, query_string='q=%d' % i)
    rec.connect('c0', '/legacy', auth={'dropped': True})
    rec.connect('c0', '/open')
    rec.connect('c0', '/closed')
    rec.connect('c1', auth={'mode': 'true'})
    rec.server('emit to welcomed', lambda: sio.emit('to-welcomed', to='welcomed'))


@scenario
def always_connect_variants(mod, rec):
    app, sio = rec.build(always_connect=True)

    @sio.on('connect')
    def connect(auth):
        rec.note('connect', auth)
        mod.emit('early', auth)
        if auth == 'no':
            return False
        if auth == 'refuse':
            raise mod.ConnectionRefusedError('refused', 'late')

    @sio.on('disconnect')
    def disconnect(reason):
        rec.note('disconnect', reason)

    rec.client('yes', auth='ok')
    rec.client('no', auth='no')
    rec.client('refuse', auth='refuse')


@scenario
def disconnect_variants(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat'])

    def on_disconnect(reason):
        rec.note('disconnect', flask.request.namespace, flask.request.sid, reason,
                 rec.sort_rooms(mod.rooms()))

    sio.on_event('disconnect', on_disconnect)
    sio.on_event('disconnect', on_disconnect, namespace='/chat')

    @sio.on('disconnect', namespace='/legacy')
    def legacy_disconnect(reason):
        rec.note('legacy', flask.request.namespace, reason)

    @sio.on('join')
    def join(room):
        mod.join_room(room)

    @sio.on('quit')
    def quit(*args):
        if args:
            mod.disconnect(sid=_resolve(rec, args[0]), namespace=args[1] if len(args) > 1
                           else None)
        else:
            mod.disconnect()
        rec.note('after disconnect()', flask.request.sid)
        return 'still here'

    for name in 'abcde':
        rec.client(name)
    rec.connect('a', '/chat')
    rec.connect('a', '/legacy')
    rec.emit('a', 'join', 'r')
    rec.emit('b', 'join', 'r')
    rec.disconnect('a', '/chat')
    rec.disconnect('a', '/legacy')
    rec.disconnect('a')
    rec.emit('b', 'quit')
    rec.emit('c', 'quit', 'sid:d')
    rec.connect('c', '/chat')
    rec.emit('c', 'quit', 'sid:c:/chat', '/chat')
    rec.server('server.disconnect', lambda: sio.server.disconnect(rec.sid('e')))
    rec.server('emit to r', lambda: sio.emit('to-r', to='r'))
    rec.connect('a')
    rec.emit('a', 'join', 'r')
    rec.server('emit to r again', lambda: sio.emit('to-r', to='r'))
    rec.disconnect('b')


@scenario
def error_handler_routing(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat', '/other', '/plain'])

    def boom(kind):
        rec.note('boom', flask.request.namespace, kind)
        if kind == 'value':
            raise ValueError('bad value')
        if kind == 'key':
            raise KeyError('k')
        if kind == 'type':
            raise TypeError('typed')
        if kind == 'refused':
            raise mod.ConnectionRefusedError('not here')
        return 'fine'

    for ns in ('/', '/chat', '/other', '/plain'):
        sio.on_event('boom', boom, namespace=ns)

    @sio.on_error()
    def root_error(e):
        rec.note('root_error', type(e).__name__, str(e), flask.request.event['message'],
                 list(flask.request.event['args']))
        return 'root handled', type(e).__name__

    @sio.on_error('/chat')
    def chat_error(e):
        rec.note('chat_error', type(e).__name__, flask.request.namespace)
        return None

    @sio.on_error('/other')
    def other_error(e):
        rec.note('other_error', repr(e))
        raise RuntimeError('error handler failed')

    rec.client('a')
    for ns in ('/chat', '/other', '/plain'):
        rec.connect('a', ns)
    for ns in ('/', '/chat', '/other', '/plain'):
        for kind in ('value', 'key', 'type', 'refused', 'ok'):
            rec.emit('a', 'boom', kind, namespace=None if ns == '/' else ns)
            rec.emit('a', 'boom', kind, namespace=None if ns == '/' else ns, callback=False)


@scenario
def error_handler_default(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat'])

    @sio.on('fail')
    def fail(*args):
        raise RuntimeError('failed %r' % (args,))

    @sio.on('fail', namespace='/chat')
    def fail_chat(*args):
        raise RuntimeError('chat failed')

    @sio.on('disconnect')
    def disconnect(reason):
        raise RuntimeError('disconnect failed')

    @sio.on('connect', namespace='/chat')
    def connect_chat(auth):
        if auth:
            raise RuntimeError('chat connect failed')

    @sio.on_error_default
    def default(e):
        rec.note('default', str(e), flask.request.namespace, flask.request.event['message'],
                 list(flask.request.event['args'])[:2] if flask.request.event['message'] not in
                 ('connect',) else None)
        return 'default', flask.request.event['message']

    rec.client('a')
    rec.emit('a', 'fail', 1, 'two')
    rec.emit('a', 'fail')
    rec.connect('a', '/chat', auth={'x': 1})
    rec.connect('a', '/chat')
    rec.emit('a', 'fail', namespace='/chat')
    rec.disconnect('a')


ACK_VALUES = [
    None, 0, 1, -1, 2 ** 53, 1.5, True, False, '', 'text', 'unicod\u00e9 \u2603', [], [1, 'a'],
    {}, {'k': [1, {'n': None}]}, (), (1,), (1, 2), ('a', [1], {'b': 2}), ((1, 2), 3),
    b'', b'\x00\xff', [b'a', b'b'], {'bin': b'\x01', 'list': [b'\x02', 'x']}, (b'x', 'y'),
]


@scenario
def ack_values(mod, rec):
    app, sio = rec.build()

    @sio.on('ack')
    def ack(index):
        return ACK_VALUES[index]

    @sio.on('message')
    def message(data):
        return data

    @sio.on('json')
    def json_(data):
        return [data]

    rec.client('a')
    for index in range(len(ACK_VALUES)):
        rec.emit('a', 'ack', index)
    rec.send('a', 'plain')
    rec.send('a', {'as': 'json'}, json=True)
    rec.send('a', 'no ack', callback=False)
    rec.emit('a', 'unhandled-event')


PAYLOADS = [
    'str', 7, 2.5, None, True, [1, [2, [3]]], {'a': {'b': {'c': 'd'}}}, b'bytes', bytearray(b'ba'),
    [b'1', b'2', b'3'], {'nested': [{'deep': b'\x00'}]}, '\u0000nul', 'x' * 5000,
]


@scenario
def payload_round_trips(mod, rec):
    app, sio = rec.build()

    @sio.on('echo')
    def echo(*args):
        rec.note('echo got', [type(a).__name__ for a in args])
        mod.emit('echo', args)
        mod.emit('echo-one', args[0] if args else None)
        mod.send(args[0] if args else None)
        return args

    rec.client('a')
    for payload in PAYLOADS:
        rec.emit('a', 'echo', payload)
    rec.emit('a', 'echo', *PAYLOADS[:5])
    rec.emit('a', 'echo', b'one', 'two', b'three')
    rec.emit('a', 'echo')
    rec.server('server binary', lambda: sio.emit('srv-bin', (b'a', {'b': b'c'})))


@scenario
def reserved_events_and_send(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat'])

    @sio.on('message')
    def message(data):
        rec.note('message', data, flask.request.event['message'])
        mod.send(data)
        mod.send(data, json=True)
        return 'message-ack'

    @sio.on('json')
    def json_handler(data):
        rec.note('json', data)
        mod.send(data, json=True, broadcast=True)

    @sio.on('message', namespace='/chat')
    def chat_message(data):
        mod.send('chat:' + str(data), namespace='/')

    rec.client('a')
    rec.client('b')
    rec.connect('a', '/chat')
    rec.send('a', 'hello')
    rec.send('a', {'k': 'v'})
    rec.send('a', {'k': 'v'}, json=True)
    rec.send('a', [1, 2], json=True, callback=False)
    rec.send('a', 'hi', namespace='/chat')
    rec.emit('a', 'message', 'via emit')
    rec.emit('a', 'json', {'via': 'emit'})


@scenario
def catch_all_handlers(mod, rec):
    app, sio = rec.build(namespaces='*')

    @sio.on('*')
    def root_any(event, *args):
        rec.note('root *', event, list(args), flask.request.namespace,
                 flask.request.event['message'])
        mod.emit('caught', event)
        return 'root*', event

    @sio.on('known')
    def known(data):
        return 'known'

    @sio.on('*', namespace='/chat')
    def chat_any(event, *args):
        rec.note('chat *', event, list(args))
        return 'chat*'

    @sio.on('shared', namespace='*')
    def shared(*args):
        rec.note('shared', flask.request.namespace, list(args))
        return 'shared@' + flask.request.namespace

    @sio.on('connect', namespace='*')
    def any_connect(auth):
        rec.note('connect *', flask.request.namespace, auth)

    @sio.on('disconnect', namespace='*')
    def any_disconnect(reason):
        rec.note('disconnect *', flask.request.namespace, reason)

    @sio.on('message')
    def message(data):
        return 'message handler'

    rec.client('a')
    rec.connect('a', '/chat')
    rec.connect('a', '/misc', auth={'t': 1})
    for ns in (None, '/chat', '/misc'):
        for event in ('known', 'unknown', 'shared', 'other'):
            rec.emit('a', event, 1, 'two', namespace=ns)
    rec.send('a', 'msg')
    rec.send('a', {'j': 1}, json=True)
    rec.disconnect('a', '/misc')
    rec.disconnect('a', '/chat')


@scenario
def class_namespace_dispatch(mod, rec):
    app, sio = rec.build()

    class WithAuth(mod.Namespace):
        def on_connect(self, auth):
            rec.note('WithAuth connect', auth, flask.request.namespace)
            if auth == 'deny':
                return False

        def on_disconnect(self, reason):
            rec.note('WithAuth disconnect', reason)

        def on_ev(self, *args):
            mod.emit('ev-back', args)
            return args

        def on_message(self, data):
            return 'class message'

        def on_fail(self):
            raise ValueError('class failure')

        def error(self, exc):
            rec.note('error hook', repr(exc))
            return 'from error hook'

    class Legacy(mod.Namespace):
        def on_connect(self):
            rec.note('Legacy connect')

        def on_disconnect(self):
            rec.note('Legacy disconnect')

        def on_ev(self, data):
            return 'legacy', data

        def on_fail(self):
            raise KeyError('no hook')

    class Overridden(mod.Namespace):
        def on_ev(self):
            return 'class'

        def on_only_class(self):
            return 'only class'

    sio.on_namespace(WithAuth('/auth'))
    sio.on_namespace(Legacy('/legacy'))
    sio.on_namespace(Overridden('/over'))

    @sio.on('ev', namespace='/over')
    def over_ev():
        return 'decorator'

    rec.client('a', namespace='/auth', auth='let me in')
    rec.client('b', namespace='/auth', auth='deny')
    rec.connect('a', '/legacy', auth='dropped')
    rec.connect('a', '/over')
    for ns in ('/auth', '/legacy', '/over'):
        for event in ('ev', 'fail', 'missing', 'only_class'):
            rec.emit('a', event, 1, namespace=ns)
        rec.send('a', 'm', namespace=ns)
    rec.disconnect('a', '/auth')
    rec.disconnect('a', '/legacy')


@scenario
def server_acks_both_ways(mod, rec):
    app, sio = rec.build()

    @sio.on('start')
    def start(n):
        sid = flask.request.sid

        def callback(*args):
            rec.note('callback', n, list(args), flask.has_request_context() and
                     flask.request.sid == sid)
        mod.emit('question', n, callback=callback)

    rec.client('a')
    rec.client('b')
    rec.emit('a', 'start', 1)
    rec.emit('a', 'start', 2)
    rec.ack('a', 'answer', 1)
    rec.ack('a')
    rec.server('server emit with callback', lambda: sio.emit(
        'srv-q', 'x', to=rec.sid('b'), callback=lambda *a: rec.note('server callback', list(a))))
    rec.ack('b', {'deep': [1]}, b'bin')


@scenario
def sessions_managed(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat'])

    @app.route('/login/<user>')
    def login(user):
        flask.session['user'] = user
        return 'ok'

    @app.route('/whois')
    def whois():
        return flask.session.get('user', 'anonymous')

    @sio.on('connect')
    def connect():
        rec.note('connect session', dict(flask.session))

    @sio.on('set')
    def set_(key, value):
        flask.session[key] = value
        return sorted(flask.session.items())

    @sio.on('get', namespace='/chat')
    def get_chat():
        return sorted(flask.session.items())

    http = app.test_client()
    http.get('/login/ann')
    rec.client('a', flask_test_client=http)
    rec.client('b', flask_test_client=http)
    rec.client('anon')
    rec.emit('a', 'set', 'k', 1)
    rec.emit('a', 'set', 'user', 'changed')
    rec.emit('b', 'set', 'other', True)
    rec.emit('anon', 'set', 'k', 'anon')
    rec.connect('a', '/chat')
    rec.emit('a', 'get', namespace='/chat')
    rec.server('http whois', lambda: http.get('/whois').get_data(as_text=True))


@scenario
def request_context_per_event(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat'])
    counters = {'teardown_request': 0, 'teardown_appcontext': 0}

    @app.teardown_request
    def teardown_request(exc):
        counters['teardown_request'] += 1

    @app.teardown_appcontext
    def teardown_appcontext(exc):
        counters['teardown_appcontext'] += 1

    @sio.on('probe')
    def probe(*args):
        flask.g.hits = flask.g.get('hits', 0) + 1
        return {
            'g': flask.g.hits,
            'sid_is_str': isinstance(flask.request.sid, str),
            'namespace': flask.request.namespace,
            'event': [flask.request.event['message'], list(flask.request.event['args'])],
            'path': flask.request.path,
            'args': flask.request.args.to_dict(),
            'header': flask.request.headers.get('X-Probe'),
            'method': flask.request.method,
            'endpoint': flask.request.endpoint,
            'teardowns': dict(counters),
        }

    sio.on_event('probe', probe, namespace='/chat')
    rec.client('a', query_string='x=1&y=2', headers={'X-Probe': 'p'})
    rec.emit('a', 'probe', 1)
    rec.emit('a', 'probe', 'two', [3])
    rec.connect('a', '/chat')
    rec.emit('a', 'probe', namespace='/chat')


@scenario
def client_api_edges(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat'])

    @sio.on('echo')
    def echo(data):
        mod.emit('echo', data)
        return data

    rec.client('a')
    rec.emit('a', 'echo', 1, namespace='/chat')   # not connected there: raises
    rec.disconnect('a', '/chat')                 # raises
    rec.disconnect('a')
    rec.disconnect('a')                          # raises
    rec.emit('a', 'echo', 2)                     # raises
    rec.send('a', 'x')                           # raises
    rec.connect('a')
    rec.emit('a', 'echo', 3)
    rec.server('get_received on unconnected ns',
               lambda: rec.clients['a'].get_received('/chat'))
    rec.server('is_connected', lambda: [rec.clients['a'].is_connected(),
                                        rec.clients['a'].is_connected('/chat')])


@scenario
def helpers_outside_socketio_handlers(mod, rec):
    # the module helpers given explicit sid/namespace, from a plain HTTP route
    app, sio = rec.build(namespaces=['/', '/chat'])
    http = app.test_client()

    @app.route('/op/<name>')
    def op(name):
        args = flask.request.args
        sid = _resolve(rec, args.get('sid'))
        namespace = args.get('ns')
        if name == 'join':
            mod.join_room(args['room'], sid=sid, namespace=namespace)
        elif name == 'leave':
            mod.leave_room(args['room'], sid=sid, namespace=namespace)
        elif name == 'close':
            mod.close_room(args['room'], namespace=namespace)
        elif name == 'rooms':
            return flask.jsonify(rec.sort_rooms(mod.rooms(sid=sid, namespace=namespace)))
        elif name == 'disconnect':
            mod.disconnect(sid=sid, namespace=namespace)
        elif name == 'emit':
            sio.emit('from-http', args.get('room'), to=args.get('room'), namespace=namespace)
        return 'done'

    @sio.on('disconnect', namespace='/chat')
    def chat_disconnect(reason):
        rec.note('chat disconnect', reason)

    def get(path):
        response = http.get(path)
        if response.is_json:
            return response.status_code, response.get_json()
        return response.status_code, response.get_data(as_text=True)

    rec.client('a')
    rec.connect('a', '/chat')
    rec.client('b', namespace='/chat')
    for path in ('/op/join?sid=sid:a&room=r', '/op/join?sid=sid:a:/chat&ns=/chat&room=c',
                 '/op/join?sid=sid:b:/chat&ns=/chat&room=c', '/op/rooms?sid=sid:a',
                 '/op/rooms?sid=sid:b:/chat&ns=/chat', '/op/emit?room=r',
                 '/op/emit?room=c&ns=/chat', '/op/leave?sid=sid:b:/chat&ns=/chat&room=c',
                 '/op/emit?room=c&ns=/chat', '/op/close?room=c&ns=/chat',
                 '/op/emit?room=c&ns=/chat', '/op/disconnect?sid=sid:a:/chat&ns=/chat',
                 '/op/emit', '/op/emit?ns=/chat'):
        rec.server(('GET', path), lambda: get(path))


@scenario
def odd_event_names(mod, rec):
    app, sio = rec.build()

    @sio.on('connect')
    def connect(auth=None):
        rec.note('connect handler', auth)

    @sio.on('disconnect')
    def disconnect(reason=None):
        rec.note('disconnect handler', reason)

    @sio.on('message')
    def message(*args):
        rec.note('message handler', list(args))
        return len(args)

    @sio.on('with space')
    def with_space(data):
        return 'space:%s' % data

    @sio.on('\u00fcnicode \u2603')
    def unicode_event():
        mod.emit('\u00e9v\u00e9nement', '\u2603')
        return 'unicode'

    @sio.on('')
    def empty(*args):
        return 'empty'

    rec.client('a')
    for event, args in (('with space', (1,)), ('\u00fcnicode \u2603', ()), ('', ()),
                        ('message', ('one', 'two')), ('*', (1,)), ('connect', ()),
                        ('disconnect', ())):
        rec.emit('a', event, *args)


@scenario
def several_emits_in_one_handler(mod, rec):
    app, sio = rec.build(namespaces=['/', '/chat', '/news'])

    @sio.on('burst')
    def burst(n):
        for i in range(n):
            mod.emit('b', i)
            mod.emit('b', i, namespace='/chat', broadcast=True)
            mod.send('s%d' % i, broadcast=True, include_self=i % 2 == 0)
            sio.emit('srv', i, namespace='/news')
        mod.join_room('burst-room')
        mod.emit('room', n, to='burst-room')
        return n

    for name in 'abc':
        rec.client(name)
    rec.connect('a', '/chat')
    rec.connect('b', '/news')
    rec.connect('c', '/chat')
    rec.connect('c', '/news')
    rec.emit('a', 'burst', 3)
    rec.emit('c', 'burst', 2)


@scenario
def sessions_unmanaged_server_side(mod, rec):
    import uuid
    from flask.sessions import SessionInterface, SessionMixin
    from werkzeug.datastructures import CallbackDict

    class Session(CallbackDict, SessionMixin):
        def __init__(self, initial=None, sid=None):
            def on_update(session):
                session.modified = True
            super().__init__(initial, on_update)
            self.sid = sid
            self.modified = False

    class Store(SessionInterface):
        store = {}

        def open_session(self, app, request):
            sid = request.cookies.get(self.get_cookie_name(app))
            if sid in self.store:
                return Session(self.store[sid], sid=sid)
            return Session(sid=uuid.uuid4().hex)

        def save_session(self, app, session, response):
            self.store[session.sid] = dict(session)
            response.set_cookie(self.get_cookie_name(app), session.sid)

    app, sio = rec.build(manage_session=False)
    app.session_interface = Store()

    @app.route('/set/<k>/<v>')
    def set_http(k, v):
        flask.session[k] = v
        return 'ok'

    @app.route('/dump')
    def dump():
        return flask.jsonify(sorted(flask.session.items()))

    @sio.on('set')
    def set_io(k, v):
        flask.session[k] = v

    @sio.on('dump')
    def dump_io():
        return sorted(flask.session.items())

    http = app.test_client()
    http.get('/set/user/ann')
    rec.client('a', flask_test_client=http)
    rec.emit('a', 'dump')
    rec.emit('a', 'set', 'io', 'yes')
    rec.server('http dump', lambda: http.get('/dump').get_json())
    rec.server('http set', lambda: http.get('/set/later/1').status_code)
    rec.emit('a', 'dump')
    rec.client('anon')
    rec.emit('anon', 'set', 'x', 'y')
    rec.emit('anon', 'dump')


@scenario
def send_and_emit_include_self_with_skip_sid(mod, rec):
    # include_self=False together with skip_sid, through every sending entry point
    app, sio = _rooms_app(mod, rec)

    @sio.on('go')
    def go(entry, skip):
        skip_sid = _resolve(rec, skip)
        if entry == 'emit helper':
            mod.emit('e', entry, broadcast=True, include_self=False, skip_sid=skip_sid)
        elif entry == 'send helper':
            mod.send(entry, broadcast=True, include_self=False, skip_sid=skip_sid)
        elif entry == 'socketio.emit':
            sio.emit('e', entry, include_self=False, skip_sid=skip_sid)
        elif entry == 'socketio.send':
            sio.send(entry, include_self=False, skip_sid=skip_sid)

    for entry in ('emit helper', 'send helper', 'socketio.emit', 'socketio.send'):
        for skip in (None, 'sid:c', ['sid:c', 'sid:d']):
            rec.emit('a', 'go', entry, skip)


@scenario
def class_namespace_error_hook_precedence(mod, rec):
    # what reaches a class's error() hook: on_error handlers first, and what they raise
    app, sio = rec.build()

    class Hooked(mod.Namespace):
        def on_connect(self, auth):
            # (ConnectionRefusedError here is a known difference: test_upstream_bugs.py)
            rec.note('connect', auth)
            if auth == 'false':
                return False

        def on_fail(self, kind):
            raise ValueError(kind)

        def error(self, exc):
            rec.note('error hook', type(exc).__name__, str(exc))
            return 'hook'

    class HookedWithOnError(Hooked):
        pass

    sio.on_namespace(Hooked('/hooked'))
    sio.on_namespace(HookedWithOnError('/both'))

    @sio.on_error('/both')
    def both_error(e):
        rec.note('on_error /both', type(e).__name__, str(e))
        if str(e) == 'reraise':
            raise RuntimeError('on_error failed')
        return 'on_error'

    for ns in ('/hooked', '/both'):
        for i, auth in enumerate(('ok', 'false')):
            rec.client('%s-%d' % (ns.strip('/'), i), namespace=ns, auth=auth)
        for kind in ('plain', 'reraise'):
            rec.emit('%s-0' % ns.strip('/'), 'fail', kind, namespace=ns)


@scenario
def class_error_hook_and_connection_refused_in_event(mod, rec):
    # ConnectionRefusedError raised by an ordinary event method of a class with error()
    app, sio = rec.build()

    class Hooked(mod.Namespace):
        def on_fail(self):
            raise mod.ConnectionRefusedError('in an event')

        def error(self, exc):
            rec.note('error hook', type(exc).__name__, str(exc))
            return 'hook'

    sio.on_namespace(Hooked('/hooked'))
    rec.client('a', namespace='/hooked')
    rec.emit('a', 'fail', namespace='/hooked')


@scenario
def catch_all_event_with_class_namespace(mod, rec):
    # a catch-all event handler of a specific namespace outranks its class-based handlers
    app, sio = rec.build()

    class Chat(mod.Namespace):
        def on_connect(self):
            rec.note('class connect')

        def on_foo(self, data):
            return 'class foo'

    sio.on_namespace(Chat('/chat'))

    @sio.on('*', namespace='/chat')
    def chat_any(event, *args):
        return 'catch-all', event

    @sio.on('bar', namespace='/chat')
    def chat_bar(data):
        return 'decorated bar'

    rec.client('a', namespace='/chat')
    for event in ('foo', 'bar', 'baz'):
        rec.emit('a', event, 1, namespace='/chat')
    rec.send('a', 'm', namespace='/chat')


@scenario
def later_connect_replaces_handshake(mod, rec):
    # each test-client connect() builds a new environ for the whole connection; what do the
    # other namespaces' events see afterwards (args, headers, the managed session)?
    app, sio = rec.build(namespaces=['/', '/chat'])

    def probe():
        return {'args': flask.request.args.to_dict(), 'h': flask.request.headers.get('X-H'),
                'session': sorted(flask.session.items()),
                'cookie': flask.request.cookies.get('c')}

    sio.on_event('probe', probe)
    sio.on_event('probe', probe, namespace='/chat')

    @sio.on('remember')
    def remember(v):
        flask.session['v'] = v

    @app.route('/cookie/<v>')
    def cookie(v):
        response = flask.make_response('ok')
        response.set_cookie('c', v)
        flask.session['http'] = v
        return response

    http = app.test_client()
    http.get('/cookie/one')
    rec.client('a', query_string='n=1', headers={'X-H': 'first'}, flask_test_client=http)
    rec.emit('a', 'probe')
    rec.emit('a', 'remember', 'kept?')
    rec.server('new cookie', lambda: http.get('/cookie/two').status_code)
    rec.connect('a', '/chat', query_string='n=2', headers={'X-H': 'second'})
    rec.emit('a', 'probe')
    rec.emit('a', 'probe', namespace='/chat')
    rec.disconnect('a', '/chat')
    rec.emit('a', 'probe')


def _edge_values():
    import collections
    import datetime
    import decimal
    import enum

    class Colour(enum.IntEnum):
        RED = 1

    class Text(str):
        pass

    return [
        2 ** 63 - 1, 2 ** 63, 2 ** 64, 2 ** 70, -2 ** 63, -2 ** 63 - 1, -2 ** 80,
        # (NaN and +/-Infinity encode as null on purpose: pinned in tests/codec/test_jsonmod.py)
        1e308, 5e-324, -0.0, 0.1 + 0.2, 1.0, 1e16,
        {1: 'int key'}, {True: 'bool key'}, {None: 'none key'}, {1.5: 'float key'},
        {'b': 1, 'a': 2}, [(1, 2), (3,)], ((1, 2),), '\ud800', '\u2028\u2029', '\x00\x1f\x7f',
        'caf\u00e9 \U0001f600', '"quoted" \\ back', Text('sub'), Colour.RED,
        collections.OrderedDict([('z', 1), ('a', 2)]), True, None,
        datetime.datetime(2020, 1, 2, 3, 4, 5), {1, 2}, decimal.Decimal('1.5'), object(),
        b'\x00' * 3, {'k': bytearray(b'ba')}, _nested(30),
    ]


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@scenario
def json_edge_values_outbound(mod, rec):
    app, sio = rec.build()
    values = _edge_values()

    @sio.on('ret')
    def ret(index):
        return values[index]

    @sio.on('emit')
    def emit(index):
        mod.emit('value', values[index])

    rec.client('a')
    for index in range(len(values)):
        rec.emit('a', 'ret', index)
        rec.emit('a', 'emit', index)
        rec.server(('server emit', index), lambda: sio.emit('srv', values[index]))


RAW_INBOUND = [
    '2["ev",1]', '2["ev"]', '2["ev",1,"two",[3],{"4":5}]', '2/chat,["ev","in chat"]',
    '21["ev","with ack"]', '2/chat,7["ev","chat ack"]', '2["ev",12345678901234567890123]',
    '2["ev",-9223372036854775809]', '2["ev",1.0]', '2["ev",1E2]', '2["ev",0.1]', '2["ev",-0]',
    '2["ev",{"a":1,"a":2}]', '2["ev","\\ud83d\\ude00"]', '2["ev","\\ud800"]', '2["ev","\u00e9"]',
    '2["ev","\\u0000"]', '2[ "ev" , 1 ]', '2["ev",%s1%s]' % ('[' * 30, ']' * 30),
    '2["ev",tru]', '2["ev",', '2{"not":"a list"}', '2[]', '2[1,2]', '2["message","text"]',
    '2["json",{"j":1}]', '2/nowhere,["ev",1]', '3["ev"]', '9', '', '2/chat["ev",1]',
    '51-["ev",{"_placeholder":true,"num":0}]',
]
# NaN, Infinity and 1e400 (which the stdlib reads as infinity) are accepted by Flask-SocketIO and
# refused on purpose by flask-socketio-fast: docs/security.md, "Strictness";
# tests/engine_ws/test_strictness.py pins both sides.


@scenario
def raw_inbound_packets(mod, rec):
    # Socket.IO text packets as a real client would send them, fed to the server unchanged
    app, sio = rec.build(namespaces=['/', '/chat'])

    def ev(*args):
        rec.note('ev', flask.request.namespace, [type(a).__name__ for a in args], repr(args))
        return args

    sio.on_event('ev', ev)
    sio.on_event('ev', ev, namespace='/chat')
    sio.on_event('message', ev)
    sio.on_event('json', ev)
    rec.client('a')
    rec.connect('a', '/chat')
    client = rec.clients['a']
    for raw in RAW_INBOUND:
        rec.server(('raw', raw), lambda: sio.server._handle_eio_message(client.eio_sid, raw))
    rec.server(('raw binary attachment', b'\x01\x02'),
               lambda: sio.server._handle_eio_message(client.eio_sid, b'\x01\x02'))
