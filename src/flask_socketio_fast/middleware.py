"""WSGI middleware: Socket.IO traffic to python-socketio, the rest to Flask.

It also records the Flask application in the WSGI environ, because the
environ is all that python-socketio hands back to us for each event.
"""

import socketio


class SocketIOMiddleware(socketio.WSGIApp):
    def __init__(self, socketio_app, flask_app, socketio_path='socket.io'):
        self.flask_app = flask_app
        super().__init__(socketio_app, flask_app.wsgi_app,
                         socketio_path=socketio_path)

    def __call__(self, environ, start_response):
        # a copy, because python-socketio keeps this environ for the whole
        # connection and the WSGI server may reuse its own dict
        environ = environ.copy()
        environ['flask.app'] = self.flask_app
        return super().__call__(environ, start_response)
