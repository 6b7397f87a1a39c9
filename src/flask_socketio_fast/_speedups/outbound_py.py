"""One pass that writes the pending bytes of many connections: the pure
Python twin of the compiled ``outbound_c``, with the same API and results.

``send_batch(socks, bufs)`` sends ``bufs[i]`` on ``socks[i]`` once each,
never blocking (the sockets are non-blocking; the compiled twin also passes
``MSG_DONTWAIT``), and returns one int per socket, in order:

* ``n >= 0``: the kernel took the first ``n`` bytes (0 when it takes
  nothing now, or the buffer was empty);
* ``-errno``: the send failed (``-EPIPE`` for a peer that went away,
  ``-EBADF`` for a closed descriptor, ...); the others are still sent.

What cannot be turned into a send is refused before any byte is sent:
``ValueError`` when the lists differ in length or a socket has no
descriptor, ``TypeError`` when a buffer is not bytes-like.
"""

import errno

IMPLEMENTATION = 'python'

#: (the compiled twin's flag: whether it sends with send(2) itself)
NATIVE_SEND = False


def send_batch(socks, bufs):
    """Send ``bufs[i]`` on ``socks[i]`` once each (see the module doc)."""
    if type(socks) is not list or type(bufs) is not list:
        raise TypeError('send_batch: socks and bufs must be lists')
    if len(socks) != len(bufs):
        raise ValueError('send_batch: socks and bufs differ in length')
    for sock in socks:
        fd = sock.fileno()
        if fd < 0:
            raise ValueError(
                f'send_batch: socket has no file descriptor ({fd})')
    views = [memoryview(buf) for buf in bufs]
    results = []
    for sock, view in zip(socks, views):
        if not view.nbytes:
            results.append(0)
            continue
        try:
            results.append(sock.send(view))
        except (BlockingIOError, InterruptedError):
            results.append(0)
        except OSError as exc:
            results.append(-(exc.errno or errno.EIO))
    return results
