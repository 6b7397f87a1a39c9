"""Demo chat: rooms, broadcasts and acks over flask-socketio-fast.

Run it with ``make run`` (it sets up the venv, compiles the speedups and
fetches the browser client), then open http://127.0.0.1:5000 in two
browser windows.  The page is the Getting Started one: it loads the
Socket.IO client, served here from the npm package rather than a CDN.
"""

import logging
import os

from flask import Flask, abort, render_template, request, send_from_directory

from flask_socketio_fast import (IMPLEMENTATION, SocketIO, emit, join_room,
                                 leave_room, rooms)

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_DIST = os.path.join(HERE, '..', 'node_modules', 'socket.io-client',
                           'dist')

# the start-up log says which speedups and fast paths serve the app
logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')

app = Flask(__name__)
app.config['SECRET_KEY'] = os.environ.get('SECRET_KEY', 'secret!')
socketio = SocketIO(app)


@app.route('/')
def index():
    return render_template('index.html', implementation=IMPLEMENTATION,
                           async_mode=socketio.async_mode)


@app.route('/vendor/<path:name>')
def vendor(name):
    if not name.startswith('socket.io'):
        abort(404)
    return send_from_directory(CLIENT_DIST, name)


@socketio.on('connect')
def on_connect(auth):
    emit('status', {'text': 'connected', 'sid': request.sid})


@socketio.on('my event')
def on_my_event(data):
    emit('my response', data)


@socketio.event
def join(data):
    room = data['room']
    join_room(room)
    emit('status', {'text': f"{data['username']} has entered {room}."},
         to=room)
    return sorted(r for r in rooms() if r != request.sid)


@socketio.event
def leave(data):
    room = data['room']
    leave_room(room)
    emit('status', {'text': f"{data['username']} has left {room}."}, to=room)
    return sorted(r for r in rooms() if r != request.sid)


@socketio.event
def chat(data):
    message = {'username': data['username'], 'text': data['text']}
    if data.get('room'):
        emit('chat', dict(message, room=data['room']), to=data['room'])
    else:
        emit('chat', message, broadcast=True)
    return 'delivered'


if __name__ == '__main__':
    host = os.environ.get('HOST', '127.0.0.1')
    port = int(os.environ.get('PORT', '5000'))
    print(f'flask-socketio-fast chat demo ({IMPLEMENTATION} speedups, '
          f'{socketio.async_mode}) on http://{host}:{port}', flush=True)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
