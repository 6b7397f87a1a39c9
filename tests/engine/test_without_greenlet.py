"""A threading-only install has no greenlet (Flask does not pull it in):
the package must import and serve without it."""

import os
import subprocess
import sys

PROBE = r'''
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('greenlet', 'eventlet', 'gevent',
                                  'geventwebsocket'):
            raise ImportError('blocked: ' + name)

sys.meta_path.insert(0, Block())
import flask
import flask_socketio_fast
from flask_socketio_fast import SocketIO

app = flask.Flask('probe')
socketio = SocketIO(app)

@socketio.on('echo')
def echo(data):
    return data

client = socketio.test_client(app)
print(socketio.async_mode, client.emit('echo', 'hi', callback=True))
'''


def test_the_package_works_without_greenlet():
    env = dict(os.environ)
    out = subprocess.run([sys.executable, '-c', PROBE], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['threading', 'hi']
