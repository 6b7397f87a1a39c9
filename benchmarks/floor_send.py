"""The floor of a fan-out on this machine: server CPU per ``send`` of one
100-byte WebSocket frame to one of N loopback TCP sockets.

No Socket.IO at all: this process (pinned to core 0) queues one frame on
each of N sockets' outboxes per round and writes them with
``_speedups.outbox.flush_batches`` (one GIL-free pass of one ``sendmsg``
per socket), paced or back to back; a child
process on core 1 reads everything with epoll.  Compare the paced fan-out
figures of a run with this floor measured the same day: a paced broadcast
that is written before the next one costs at least one such send per
recipient.

    .venv/bin/python benchmarks/floor_send.py [--clients 1000] [--rounds 100] [--rate 100]
"""

import argparse
import collections
import os
import selectors
import socket
import subprocess
import sys
import threading
import time

FRAME = b'\x81\x62' + b'x' * 98   # a 98-byte text frame, 100 bytes on the wire


class _NoWriters:
    """Every frame must go in its round's send: no writer is started."""

    make_lock = staticmethod(threading.Lock)   # (the pure twin's lock)

    @staticmethod
    def spawn(fn, *args):
        raise SystemExit('a socket did not take a whole frame')


def reader(clients, rounds, port):
    sel = selectors.EpollSelector()
    socks = []
    for _ in range(clients):
        s = socket.create_connection(('127.0.0.1', port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    print('ready', flush=True)
    total, want = 0, clients * rounds * len(FRAME)
    while total < want:
        for key, _ in sel.select(10):
            try:
                total += len(key.fileobj.recv(65536))
            except BlockingIOError:
                pass
    print('done', flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clients', type=int, default=1000)
    parser.add_argument('--rounds', type=int, default=100)
    parser.add_argument('--rate', type=float, default=100.0,
                        help='rounds per second (0: back to back)')
    parser.add_argument('--reader-port', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reader_port:
        reader(args.clients, args.rounds, args.reader_port)
        return
    from flask_socketio_fast._speedups import outbox
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    os.sched_setaffinity(0, {0})
    child = subprocess.Popen(
        ['taskset', '-c', '1', sys.executable, __file__, '--clients',
         str(args.clients), '--rounds', str(args.rounds), '--reader-port',
         str(port)], stdout=subprocess.PIPE)
    conns = []
    for _ in range(args.clients):
        conn, _ = listener.accept()
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(conn)
    assert child.stdout.readline().strip() == b'ready'
    pending = collections.deque()
    boxes = [outbox.Outbox(conn, _NoWriters, None, pending, 1 << 20, 1000,
                           5.0, release_gil=True) for conn in conns]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(args.rounds):
        for box in boxes:
            box.append(FRAME)
        outbox.flush_batches(pending)
        if any(box.pending_bytes() or box.state != outbox.OPEN
               for box in boxes):
            raise SystemExit('a socket did not take a whole frame')
        if args.rate:
            delay = wall0 + (i + 1) / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    cpu = time.process_time() - cpu0
    child.stdout.readline()
    child.wait()
    print(f'{args.clients} sockets, {args.rounds} rounds at '
          f'{args.rate or "max"}/s ({outbox.IMPLEMENTATION} outbox): '
          f'{cpu / (args.clients * args.rounds) * 1e6:.2f} µs server CPU '
          f'per send')


if __name__ == '__main__':
    main()
