# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``outbound_py``: one pass that writes the pending bytes
of many connections, with the GIL released for the whole pass.

Releasing the GIL once per pass, instead of once per ``send`` as
``socket.send`` does, is the point: with threads, a broadcaster that holds
the GIL otherwise makes every one of the pass's sends wait for its turn.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromSsize_t
from cpython.ref cimport Py_INCREF
from libc.stdlib cimport free, malloc

IMPLEMENTATION = 'c'

cdef extern from "nonblocking_send.h":
    int FSF_NATIVE_SEND
    Py_ssize_t fsf_send(int fd, const char *buf, Py_ssize_t n) nogil

#: False where the batch goes through the socket objects (Windows)
NATIVE_SEND = bool(FSF_NATIVE_SEND)


def send_batch(list socks, list bufs):
    """Send ``bufs[i]`` on ``socks[i]`` once each (see ``outbound_py``)."""
    cdef Py_ssize_t n = len(socks), i, got = 0
    if len(bufs) != n:
        raise ValueError('send_batch: socks and bufs differ in length')
    if not FSF_NATIVE_SEND:  # pragma: no cover - Windows
        from .outbound_py import send_batch as py_send_batch
        return py_send_batch(socks, bufs)
    cdef int *fds = <int *>malloc(max(n, 1) * sizeof(int))
    cdef Py_buffer *views = <Py_buffer *>malloc(max(n, 1) * sizeof(Py_buffer))
    cdef Py_ssize_t *results = <Py_ssize_t *>malloc(
        max(n, 1) * sizeof(Py_ssize_t))
    cdef list out
    cdef object item
    if fds is NULL or views is NULL or results is NULL:
        free(fds)
        free(views)
        free(results)
        raise MemoryError()
    try:
        # everything that can raise happens before the first send
        for i in range(n):
            fds[i] = _fileno(socks[i])
            PyObject_GetBuffer(bufs[i], &views[i], PyBUF_SIMPLE)
            got += 1
        with nogil:
            for i in range(n):
                if views[i].len == 0:
                    results[i] = 0
                else:
                    results[i] = fsf_send(fds[i], <const char *>views[i].buf,
                                          views[i].len)
        out = PyList_New(n)
        for i in range(n):
            item = PyLong_FromSsize_t(results[i])
            Py_INCREF(item)
            PyList_SET_ITEM(out, i, item)
        return out
    finally:
        for i in range(got):
            PyBuffer_Release(&views[i])
        free(fds)
        free(views)
        free(results)


cdef int _fileno(object sock) except -1:
    cdef object fd = sock.fileno()
    cdef long value = fd
    if value < 0:
        raise ValueError(f'send_batch: socket has no file descriptor ({value})')
    return <int>value
