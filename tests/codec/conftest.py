"""Fixtures for the codec tests: every test runs on both twins.

``impl`` is parametrized over ``py`` and ``c``.  The ``c`` param never skips
silently: if the compiled modules cannot be imported the test fails, unless
FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1 says a pure-Python run is intended.
"""

import os
import types

import pytest

from flask_socketio_fast import _speedups, eio_packet, packet

NO_EXTENSIONS = os.environ.get('FLASK_SOCKETIO_FAST_NO_EXTENSIONS') == '1'
IMPLS = ('py', 'c')


def get_impl(name):
    """The codec modules and classes of one twin ('py' or 'c')."""
    full = 'c' if name == 'c' else 'python'
    try:
        mods = _speedups.load(full)
    except ImportError as exc:
        if NO_EXTENSIONS:
            pytest.skip('pure-Python run (FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1)')
        pytest.fail(f'compiled extension missing ({exc}); build it with '
                    '`make build` or run with FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1')
    eio_cls, payload_cls = eio_packet.packet_classes(full)
    return types.SimpleNamespace(
        name=name, codec=mods.packet, eio=mods.eio,
        outbox=mods.outbox,
        Packet=packet.packet_class(full), EioPacket=eio_cls,
        EioPayload=payload_cls)


@pytest.fixture(scope='session', params=IMPLS)
def impl(request):
    return get_impl(request.param)


@pytest.fixture(scope='session')
def both():
    """Both twins at once, for twin-against-twin comparisons."""
    return get_impl('py'), get_impl('c')
