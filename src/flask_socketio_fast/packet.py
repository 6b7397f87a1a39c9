"""The Socket.IO packet class flask-socketio-fast hands to python-socketio.

``socketio.Server(serializer=Packet)`` makes the server encode and decode
with it.  It is a subclass of ``socketio.packet.Packet`` with the codec of the
selected ``_speedups`` implementation underneath, so the wire format is the
same (byte for byte under the same JSON module) and so are the errors.

Its ``json`` attribute is ``flask_socketio_fast.jsonmod`` (orjson).  When
python-socketio is given ``json=`` it assigns ``Packet.json``; the packet then
calls that module exactly like upstream does.
"""

from socketio import packet as _upstream

from . import _speedups, jsonmod

__all__ = ['Packet', 'packet_class']

_classes = {}


def packet_class(implementation=None):
    """The packet class built on one implementation ('c' or 'python');
    the selected one (``Packet``) by default.  Each call for the same
    implementation returns the same class."""
    codec = _speedups.packet if implementation is None else \
        _speedups.load(implementation).packet
    cls = _classes.get(codec.IMPLEMENTATION)
    if cls is None:
        codec.set_fast_json(jsonmod)
        # a module-level name per implementation keeps instances picklable
        qualname = 'Packet' if codec is _speedups.packet else \
            f'_Packet_{codec.IMPLEMENTATION}'
        cls = type('Packet', (codec.PacketBase, _upstream.Packet), {
            '__module__': __name__,
            '__qualname__': qualname,
            '__doc__': 'Socket.IO packet (python-socketio compatible).',
            'json': jsonmod,
        })
        globals()[qualname] = cls
        _classes[codec.IMPLEMENTATION] = cls
    return cls


Packet = packet_class()
