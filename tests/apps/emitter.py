"""A write-only emitter: an external process (no Flask app, no server) that
emits to the clients of a message-queue cluster.

    emitter.py --impl flask_socketio_fast \
        --message-queue redis://127.0.0.1:6379/0 \
        '{"event": "mq", "data": {"from": "emitter"}}' \
        '{"event": "mq", "data": {"x": 1}, "to": "team"}'

Each positional argument is one emit (``event``, ``data``, optional ``to`` and
``namespace``), published in order through ``SocketIO(message_queue=url)``.
Prints ``{"emitted": N}`` when done.
"""
import argparse
import importlib
import json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--impl', choices=('flask_socketio',
                                           'flask_socketio_fast'),
                        required=True)
    parser.add_argument('--message-queue', required=True)
    parser.add_argument('--channel', default=None)
    parser.add_argument('emits', nargs='+', type=json.loads)
    args = parser.parse_args(argv)

    fsio = importlib.import_module(args.impl)
    options = {'message_queue': args.message_queue}
    if args.channel:
        options['channel'] = args.channel
    # no app: this is the documented way to get a write-only emitter
    socketio = fsio.SocketIO(**options)
    for emit in args.emits:
        kwargs = {}
        if emit.get('to') is not None:
            kwargs['to'] = emit['to']
        if emit.get('namespace'):
            kwargs['namespace'] = emit['namespace']
        socketio.emit(emit['event'], emit['data'], **kwargs)
    print(json.dumps({'emitted': len(args.emits)}), flush=True)


if __name__ == '__main__':
    main()
