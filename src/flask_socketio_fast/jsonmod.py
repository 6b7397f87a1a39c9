"""orjson behind the JSON-module interface python-socketio expects.

python-socketio calls ``json.dumps(obj, separators=(',', ':'))`` (a str) and
``json.loads(text_or_bytes)`` on whatever module is its packet class's
``json``.  This module is that object for ``flask_socketio_fast.packet.Packet``
by default.  It accepts and rejects the same things as the standard library
(and python-engineio's integer-length guard), using orjson where it gives the
same answer; the remaining differences are listed and pinned in
``docs/codec.md``.  Calls with other keyword arguments (``indent``,
``default``, ``object_hook``, ...) are handed to the standard library as is.
"""

import json as _stdjson
from json import JSONDecodeError  # noqa: F401  (part of the module interface)

from ._speedups import packet as _codec

__all__ = ['dumps', 'loads', 'JSONDecodeError']

_COMPACT = (',', ':')


def dumps(obj, separators=None, **kwargs):
    """Serialize ``obj`` to compact JSON text.

    The output is always compact, whatever ``separators`` says, unless other
    formatting options are given (those go to ``json.dumps`` unchanged).
    Unserializable objects raise ``TypeError`` as with ``json.dumps``.
    """
    if kwargs or (separators is not None and tuple(separators) != _COMPACT):
        if separators is not None:
            kwargs['separators'] = separators
        return _stdjson.dumps(obj, **kwargs)
    return _codec.json_dumps(obj)


def loads(s, **kwargs):
    """Parse JSON from str, bytes or bytearray; errors are ``ValueError``s
    (``JSONDecodeError`` for malformed text)."""
    if kwargs:
        return _codec.stdlib_loads(s, **kwargs)
    return _codec.json_loads(s)
