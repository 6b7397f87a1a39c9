"""The Flask context around every Socket.IO event: a fresh request context (and flask.g), teardown
functions, request.sid / request.namespace / request.event, and the connection's WSGI environ."""
import flask


def test_fresh_g_per_event(make):
    app, sio = make()

    @sio.on('count')
    def count():
        flask.g.count = flask.g.get('count', 0) + 1
        return flask.g.count

    client = sio.test_client(app)
    assert [client.emit('count', callback=True) for _ in range(3)] == [1, 1, 1]


def test_teardown_functions_run_after_each_event(make):
    app, sio = make()
    log = []

    @app.teardown_request
    def teardown_request(exc):
        log.append(('request', exc is None))

    @app.teardown_appcontext
    def teardown_appcontext(exc):
        log.append(('appcontext', exc is None))

    @sio.on('ev')
    def ev():
        log.append(('handler', flask.has_request_context(), flask.has_app_context()))

    client = sio.test_client(app)
    del log[:]  # the connect event tears down too
    client.emit('ev')
    client.emit('ev')
    assert log == [('handler', True, True), ('request', True), ('appcontext', True)] * 2


def test_teardown_runs_for_connect_and_disconnect(make):
    app, sio = make()
    log = []

    @app.teardown_request
    def teardown_request(exc):
        log.append('teardown')

    @sio.on('connect')
    def connect():
        log.append('connect')

    @sio.on('disconnect')
    def disconnect(reason):
        log.append('disconnect')

    client = sio.test_client(app)
    client.disconnect()
    assert log == ['connect', 'teardown', 'disconnect', 'teardown']


def test_request_sid_namespace_event(make):
    app, sio = make(namespaces=['/', '/chat'])
    seen = []

    @sio.on('ev')
    def ev(a, b):
        seen.append((flask.request.sid, flask.request.namespace,
                     flask.request.event['message'], list(flask.request.event['args'])))

    @sio.on('ev', namespace='/chat')
    def ev_chat(a):
        seen.append((flask.request.sid, flask.request.namespace,
                     flask.request.event['message'], list(flask.request.event['args'])))

    client = sio.test_client(app)
    client.connect('/chat')
    client.emit('ev', 1, {'x': 2})
    client.emit('ev', 3, 4)
    client.emit('ev', 'c', namespace='/chat')
    (sid1, ns1, m1, a1), (sid2, ns2, m2, a2), (sid3, ns3, m3, a3) = seen
    assert sid1 == sid2 != sid3  # one sid per client and namespace
    assert (ns1, m1, a1) == ('/', 'ev', [1, {'x': 2}])
    assert (ns2, m2, a2) == ('/', 'ev', [3, 4])
    assert (ns3, m3, a3) == ('/chat', 'ev', ['c'])


def test_sids_differ_between_clients(make):
    app, sio = make()

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    a, b = sio.test_client(app), sio.test_client(app)
    assert a.emit('whoami', callback=True) != b.emit('whoami', callback=True)


def test_request_carries_the_connection_environ(make):
    app, sio = make()

    @sio.on('info')
    def info():
        return {
            'args': flask.request.args.to_dict(),
            'header': flask.request.headers.get('X-Custom'),
            'path': flask.request.path,
            'environ_app': flask.request.environ.get('flask.app') is flask.current_app._get_current_object(),
        }

    client = sio.test_client(app, query_string='?a=1&b=two', headers={'X-Custom': 'yes'})
    assert client.emit('info', callback=True) == {
        'args': {'a': '1', 'b': 'two'}, 'header': 'yes', 'path': '/socket.io',
        'environ_app': True}


def test_current_app_and_url_for(make):
    app, sio = make()

    @app.route('/page/<name>')
    def page(name):
        return name

    @sio.on('link')
    def link(name):
        return flask.url_for('page', name=name), flask.current_app.name

    client = sio.test_client(app)
    assert client.emit('link', 'x', callback=True) == ['/page/x', app.name]


def test_before_request_hooks_do_not_run_for_events(make):
    app, sio = make()
    log = []

    @app.before_request
    def before():
        log.append('before')

    @sio.on('ev')
    def ev():
        log.append('ev')

    client = sio.test_client(app)
    client.emit('ev')
    assert log == ['ev']


def test_server_environ_is_recorded(make):
    app, sio = make()

    @sio.on('whoami')
    def whoami():
        return flask.request.sid

    client = sio.test_client(app, headers={'X-Env': 'e'})
    sid = client.emit('whoami', callback=True)
    environ = sio.server.get_environ(sid)
    assert environ['HTTP_X_ENV'] == 'e'
    assert environ['flask.app'] is app
    assert sio.server.environ[client.eio_sid] is environ


def test_event_request_is_the_apps_request_class_and_is_closed(make):
    class AppRequest(flask.Request):
        closed = 0

        def close(self):
            AppRequest.closed += 1
            super().close()

        def marker(self):
            return 'app request'

    app = flask.Flask(__name__)
    app.config['SECRET_KEY'] = 'secret'
    app.request_class = AppRequest
    app, sio = make(app)
    seen = []

    @sio.on('plain')
    def plain():
        req = flask.request._get_current_object()
        seen.append((isinstance(req, AppRequest), type(req).__name__,
                     req.marker()))

    @sio.on('files')
    def files():
        return len(flask.request.files)

    client = sio.test_client(app)
    before = AppRequest.closed
    client.emit('plain')
    assert client.emit('files', callback=True) == 0
    # the app's own close() runs after every event, as after a request
    assert AppRequest.closed == before + 2
    assert seen == [(True, 'AppRequest', 'app request')]


def test_event_request_of_a_plain_flask_app(make):
    app, sio = make()
    seen = []

    @sio.on('ev')
    def ev():
        req = flask.request._get_current_object()
        seen.append((isinstance(req, app.request_class),
                     type(req).__name__, len(req.files)))

    client = sio.test_client(app)
    client.emit('ev')
    client.emit('ev')
    assert seen == [(True, app.request_class.__name__, 0)] * 2


def _context_signal_log(app):
    """Connect a receiver to every context signal Flask sends around a
    request; returns the log they append to and a function disconnecting them."""
    log = []
    receivers = []
    for name in ('appcontext_pushed', 'appcontext_tearing_down',
                 'appcontext_popped', 'request_tearing_down'):
        signal = getattr(flask, name)

        def receiver(sender, _name=name, **kwargs):
            log.append((_name, sender.name, 'exc' in kwargs))

        signal.connect(receiver, app)
        receivers.append((signal, receiver))

    def disconnect():
        for signal, receiver in receivers:
            signal.disconnect(receiver, app)
    return log, disconnect


def test_context_signals_are_sent_around_every_event(make):
    app, sio = make()

    @sio.on('ev')
    def ev():
        return flask.current_app.name

    client = sio.test_client(app)
    log, disconnect = _context_signal_log(app)
    try:
        assert client.emit('ev', callback=True) == app.name
        assert client.emit('ev', callback=True) == app.name
    finally:
        disconnect()
    one_event = [('appcontext_pushed', app.name, False),
                 ('request_tearing_down', app.name, True),
                 ('appcontext_tearing_down', app.name, True),
                 ('appcontext_popped', app.name, False)]
    assert log == one_event * 2
    # once disconnected, they are not called any more
    client.emit('ev')
    assert len(log) == 8


def test_teardown_functions_registered_after_connecting_run(make):
    app, sio = make()
    log = []

    @sio.on('ev')
    def ev():
        log.append('handler')

    client = sio.test_client(app)
    client.emit('ev')
    app.teardown_request(lambda exc: log.append('request'))
    app.teardown_appcontext(lambda exc: log.append('appcontext'))
    client.emit('ev')
    assert log == ['handler', 'handler', 'request', 'appcontext']


def test_teardown_gets_the_exception_an_event_handler_raised(make):
    app, sio = make()
    seen = []

    @app.teardown_request
    def teardown_request(exc):
        seen.append(('request', type(exc).__name__))

    @app.teardown_appcontext
    def teardown_appcontext(exc):
        seen.append(('appcontext', type(exc).__name__))

    @sio.on('boom')
    def boom():
        raise ValueError('boom')

    client = sio.test_client(app)
    del seen[:]
    try:
        client.emit('boom')
    except ValueError:
        pass  # the test client re-raises what no error handler took
    assert seen == [('request', 'ValueError'), ('appcontext', 'ValueError')]


def test_overridden_teardown_and_app_context_methods_run(make):
    log = []

    class AppContextSpy(flask.ctx.AppContext):
        def push(self):
            log.append('app_context.push')
            super().push()

    class App(flask.Flask):
        def do_teardown_request(self, exc=None):
            log.append('do_teardown_request')
            super().do_teardown_request(exc)

        def do_teardown_appcontext(self, exc=None):
            log.append('do_teardown_appcontext')
            super().do_teardown_appcontext(exc)

        def app_context(self):
            return AppContextSpy(self)

    app = App(__name__)
    app.config['SECRET_KEY'] = 'secret'
    app, sio = make(app)

    @sio.on('ev')
    def ev():
        log.append('handler')
        return isinstance(flask.globals.app_ctx._get_current_object(),
                          AppContextSpy)

    client = sio.test_client(app)
    del log[:]
    assert client.emit('ev', callback=True) is True
    assert log == ['app_context.push', 'handler', 'do_teardown_request',
                   'do_teardown_appcontext']


def test_blueprint_teardown_does_not_run_for_events(make):
    # events match no URL rule, so no blueprint handled them
    app = flask.Flask(__name__)
    app.config['SECRET_KEY'] = 'secret'
    bp = flask.Blueprint('bp', __name__)
    log = []
    bp.teardown_request(lambda exc: log.append('bp'))
    app.teardown_request(lambda exc: log.append('app'))
    app.register_blueprint(bp)
    app, sio = make(app)

    @sio.on('ev')
    def ev():
        pass

    client = sio.test_client(app)
    del log[:]
    client.emit('ev')
    assert log == ['app']


def test_copy_current_request_context_in_a_handler(make):
    app, sio = make()
    copied = []
    seen = []

    @sio.on('ev')
    def ev():
        @flask.copy_current_request_context
        def later():
            seen.append((flask.request.sid, flask.request.event['message'],
                         flask.has_app_context()))

        copied.append((later, flask.request.sid))

    client = sio.test_client(app)
    client.emit('ev')
    # run it after the event's own context is gone, as a background task
    # started by the handler would
    later, sid = copied[0]
    assert not flask.has_request_context()
    later()
    assert seen == [(sid, 'ev', True)]
