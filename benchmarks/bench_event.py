"""In-process cost of one inbound event: Flask-SocketIO vs flask-socketio-fast.

The receive-path benchmark of issue 6.  The same app in each contender:
threading mode, handlers inline (``async_handlers=False``), a signed Flask
session cookie present, an echo handler.  One Socket.IO packet is fed to the
server's ``_handle_eio_message`` (as the Engine.IO socket would), and what
the server sends back is encoded but goes nowhere, so the number is the
server's own work per event: decode, dispatch, Flask context, handler, ack.

Each contender runs in its own subprocess (the implementation choice is
process-wide), alternating, several repetitions; the table shows medians,
spread and the ratio against Flask-SocketIO from the same run.

    .venv/bin/python benchmarks/bench_event.py [--events 20000] [--reps 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), 'src')

CONTENDERS = [
    ('Flask-SocketIO 5.7', 'flask_socketio', {}),
    ('fast (pure Python)', 'flask_socketio_fast',
     {'FLASK_SOCKETIO_FAST_NO_EXTENSIONS': '1'}),
    ('fast (compiled)', 'flask_socketio_fast',
     {'FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS': '1'}),
]

PACKETS = {
    'event': '2["echo",{"user":"u1","text":"hello world"}]',
    'event+ack': '21["echo",{"user":"u1","text":"hello world"}]',
}


def build_scenario(module_name):
    """The benchmark app on ``module_name``; returns (module, feed) where
    ``feed(packet)`` hands one inbound Socket.IO packet to the server."""
    mod = __import__(module_name)
    from flask import Flask, session

    app = Flask(__name__)
    app.config['SECRET_KEY'] = 'benchmark'

    @app.route('/login')
    def login():
        session['user'] = 'u1'
        return 'ok'

    sio = mod.SocketIO(app, async_mode='threading', async_handlers=False)

    @sio.on('echo')
    def echo(data):
        return data

    http = app.test_client()
    http.get('/login')
    client = sio.test_client(app, flask_test_client=http)
    server = sio.server
    # what the server sends is encoded (real work) but not captured
    server._send_packet = lambda eio_sid, pkt: pkt.encode()
    eio_sid = client.eio_sid
    handle = server._handle_eio_message
    return mod, lambda pkt: handle(eio_sid, pkt)


def child(module_name, events):
    """Measure in this process; print one JSON line of us/event."""
    import time

    mod, handle = build_scenario(module_name)
    result = {'implementation': getattr(mod, 'IMPLEMENTATION', '-')}
    for name, pkt in PACKETS.items():
        for _ in range(events // 10):
            handle(pkt)
        t0 = time.perf_counter()
        for _ in range(events):
            handle(pkt)
        result[name] = (time.perf_counter() - t0) / events * 1e6
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--events', type=int, default=20000)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.events)

    runs = {label: [] for label, _, _ in CONTENDERS}
    impl = {}
    for rep in range(args.reps):
        for label, module, env in CONTENDERS:
            child_env = dict(os.environ, **env)
            child_env['PYTHONPATH'] = SRC + os.pathsep + \
                child_env.get('PYTHONPATH', '')
            for k in ('FLASK_SOCKETIO_FAST_NO_EXTENSIONS',
                      'FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS'):
                if k not in env:
                    child_env.pop(k, None)
            out = subprocess.run(
                [sys.executable, __file__, '--child', module,
                 '--events', str(args.events)],
                env=child_env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f'{label}: failed\n{out.stderr[-2000:]}',
                      file=sys.stderr)
                continue
            data = json.loads(out.stdout.strip().splitlines()[-1])
            impl[label] = data.pop('implementation')
            runs[label].append(data)

    base = runs[CONTENDERS[0][0]]
    print(f'# per inbound event, in-process (us, median of {args.reps}; '
          f'{args.events} events each)')
    print(f'{"contender":<22}{"impl":>7}' + ''.join(
        f'{name:>24}' for name in PACKETS))
    for label, _, _ in CONTENDERS:
        if not runs[label]:
            continue
        cells = []
        for name in PACKETS:
            values = [r[name] for r in runs[label]]
            med = statistics.median(values)
            spread = max(values) - min(values)
            ratio = statistics.median([r[name] for r in base]) / med \
                if base else float('nan')
            cells.append(f'{med:7.1f} ±{spread:4.1f} ({ratio:4.1f}x)')
        print(f'{label:<22}{impl[label]:>7}' +
              ''.join(f'{c:>24}' for c in cells))


if __name__ == '__main__':
    main()
