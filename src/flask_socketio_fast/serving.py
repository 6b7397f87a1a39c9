"""``SocketIO.run()`` and ``stop()``: serve with eventlet, gevent or Werkzeug.

The async mode python-socketio picked decides the web server: eventlet's
WSGI server, gevent's pywsgi (with gevent-websocket's handler when that
package is installed, otherwise WebSocket comes from simple-websocket), or
the Werkzeug development server in threading mode.  We keep a handle on
every server we start so that ``stop()`` works in all three; Flask-SocketIO
5.7 relies on ``werkzeug.server.shutdown``, which Werkzeug no longer has.
"""

import logging

from werkzeug.debug import DebuggedApplication

from . import _speedups

logger = logging.getLogger('flask_socketio_fast')

_SSL_ARGS = ('keyfile', 'certfile', 'server_side', 'cert_reqs',
             'ssl_version', 'ca_certs', 'do_handshake_on_connect',
             'suppress_ragged_eofs', 'ciphers')


def _run_with_reloader(target, reloader_options):
    from werkzeug._reloader import run_with_reloader
    run_with_reloader(target, **reloader_options)


def run(socketio, app, host=None, port=None, **kwargs):
    if host is None:
        host = '127.0.0.1'
    if port is None:
        server_name = app.config['SERVER_NAME']
        if server_name and ':' in server_name:
            port = int(server_name.rsplit(':', 1)[1])
        else:
            port = 5000
    debug = kwargs.pop('debug', app.debug)
    log_output = kwargs.pop('log_output', debug)
    use_reloader = kwargs.pop('use_reloader', debug)
    extra_files = kwargs.pop('extra_files', None)
    reloader_options = dict(kwargs.pop('reloader_options', {}))
    if extra_files:
        reloader_options['extra_files'] = extra_files
    allow_unsafe_werkzeug = kwargs.pop('allow_unsafe_werkzeug', False)

    app.debug = debug
    mode = socketio.server.eio.async_mode
    logger.info('%s; serving on %s:%s with %s', _speedups.describe(), host,
                port, mode)
    if app.debug and mode != 'threading':
        # the debugger goes between our middleware and the Flask app, so
        # the WebSocket handler never sees it
        socketio.sockio_mw.wsgi_app = DebuggedApplication(
            socketio.sockio_mw.wsgi_app, evalex=True)

    if mode == 'threading':
        _run_werkzeug(socketio, app, host, port, debug, use_reloader,
                      reloader_options, allow_unsafe_werkzeug, kwargs)
    elif mode == 'eventlet':
        _run_eventlet(socketio, app, host, port, log_output, use_reloader,
                      reloader_options, kwargs)
    elif mode == 'gevent':
        _run_gevent(socketio, app, host, port, log_output, use_reloader,
                    reloader_options, kwargs)
    else:
        raise RuntimeError(f'socketio.run() cannot serve async mode {mode!r};'
                           ' run the application under its own server')


def _run_werkzeug(socketio, app, host, port, debug, use_reloader,
                  reloader_options, allow_unsafe_werkzeug, kwargs):
    import os

    from werkzeug.serving import make_server

    try:
        import simple_websocket  # noqa: F401
    except ImportError:
        logger.warning('WebSocket transport not available. Install '
                       'simple-websocket for improved performance.')
    if not debug and not allow_unsafe_werkzeug and \
            not os.environ.get('WERKZEUG_RUN_MAIN'):
        raise RuntimeError('The Werkzeug web server is not designed to run '
                           'in production. Pass allow_unsafe_werkzeug=True '
                           'to the run() method to disable this error.')
    if not debug and allow_unsafe_werkzeug:
        logger.warning('Werkzeug appears to be used in a production '
                       'deployment. Consider switching to a production web '
                       'server instead.')
    application = app
    if kwargs.pop('use_debugger', debug):
        application = DebuggedApplication(
            app, evalex=kwargs.pop('use_evalex', True))
    else:
        kwargs.pop('use_evalex', None)
    server_kwargs = {k: kwargs.pop(k) for k in
                     ('ssl_context', 'request_handler', 'passthrough_errors')
                     if k in kwargs}
    kwargs.pop('threaded', None)
    if kwargs:
        raise TypeError('unexpected arguments for the Werkzeug server: '
                        + ', '.join(sorted(kwargs)))

    def serve():
        server = make_server(host, port, application, threaded=True,
                             **server_kwargs)
        socketio.wsgi_server = server
        scheme = 'https' if server_kwargs.get('ssl_context') else 'http'
        logging.getLogger('werkzeug').info(
            ' * Running on %s://%s:%d', scheme, host, server.port)
        try:
            server.serve_forever()
        finally:
            server.server_close()

    if use_reloader:
        _run_with_reloader(serve, reloader_options)
    else:
        serve()


def _run_eventlet(socketio, app, host, port, log_output, use_reloader,
                  reloader_options, kwargs):
    import eventlet
    import eventlet.green.socket
    import eventlet.wsgi

    ssl_params = {k: kwargs.pop(k) for k in _SSL_ARGS if k in kwargs}
    ssl_params = {k: v for k, v in ssl_params.items() if v is not None}

    def serve():
        addresses = eventlet.green.socket.getaddrinfo(host, port)
        if not addresses:
            raise RuntimeError('Could not resolve host to a valid address')
        sock = eventlet.listen(addresses[0][4], addresses[0][0])
        if ssl_params:
            ssl_params['server_side'] = True  # a listening socket serves
            sock = eventlet.wrap_ssl(sock, **ssl_params)
        socketio.wsgi_server = sock
        eventlet.wsgi.server(sock, app, log_output=log_output, **kwargs)

    if use_reloader:
        _run_with_reloader(serve, reloader_options)
    else:
        serve()


def _run_gevent(socketio, app, host, port, log_output, use_reloader,
                reloader_options, kwargs):
    from gevent import pywsgi
    try:
        from geventwebsocket.handler import WebSocketHandler
    except ImportError:
        # simple-websocket provides WebSocket on plain pywsgi
        WebSocketHandler = None
    log = 'default' if log_output else None
    if WebSocketHandler is not None:
        kwargs.setdefault('handler_class', WebSocketHandler)
    socketio.wsgi_server = pywsgi.WSGIServer((host, port), app, log=log,
                                             **kwargs)
    if use_reloader:
        # the reloader watches files from a thread and sleeps
        from gevent import monkey
        monkey.patch_thread()
        monkey.patch_time()
        _run_with_reloader(socketio.wsgi_server.serve_forever,
                           reloader_options)
    else:
        socketio.wsgi_server.serve_forever()


def stop(socketio):
    mode = socketio.server.eio.async_mode
    server = socketio.wsgi_server
    if mode == 'threading':
        if server is None:
            raise RuntimeError('Cannot stop unknown web server')
        # shutdown() waits for serve_forever() to return, which must not
        # happen on the thread that runs it; a handler thread is fine, but
        # do it from a fresh thread so stop() also works from anywhere else
        import threading
        threading.Thread(target=server.shutdown, daemon=True).start()
    elif mode == 'eventlet':
        import eventlet

        def _exit():
            # eventlet's hub hands SystemExit to the main greenlet, which
            # ends eventlet.wsgi.server(); raised from a fresh greenlet, so
            # the caller's request still completes
            raise SystemExit

        eventlet.spawn(_exit)
    elif mode == 'gevent':
        if server is None:
            raise RuntimeError('Cannot stop unknown web server')
        import gevent
        gevent.spawn(server.stop)
    else:
        raise RuntimeError(f'Cannot stop a server in async mode {mode!r}')
