"""Fixtures that run every API test once per implementation (reference and fast)."""
import engineio.packet
import pytest
import socketio.packet

from .support import IMPLEMENTATIONS, PacketSpy, import_impl, new_app


@pytest.fixture(params=IMPLEMENTATIONS)
def mod(request):
    """The implementation module under test: gives ``mod.SocketIO``, ``mod.emit``, ..."""
    module, reason = import_impl(request.param)
    if module is None:
        pytest.skip(reason)
    return module


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request):
    """``(name, module)``, for tests that expect different results per implementation
    (the upstream bugs fixed on purpose)."""
    module, reason = import_impl(request.param)
    if module is None:
        pytest.skip(reason)
    return request.param, module


@pytest.fixture
def make(mod):
    """Factory: ``app, socketio = make(**socketio_options)``.

    Threading mode by default, so background tasks and ``call()`` behave like plain threads
    (eventlet, the auto-detected default here, would need a monkey-patched process).
    """
    def factory(app=None, **kwargs):
        app = app or new_app()
        kwargs.setdefault('async_mode', 'threading')
        return app, mod.SocketIO(app, **kwargs)
    return factory


@pytest.fixture
def spy_factory():
    return PacketSpy


@pytest.fixture(autouse=True)
def _restore_process_wide_json():
    """``json=`` is a process-wide setting of python-socketio and python-engineio.

    A test that passes ``json=`` would otherwise change packet encoding for every later test.
    """
    saved = (socketio.packet.Packet.json, engineio.packet.Packet.json)
    yield
    socketio.packet.Packet.json, engineio.packet.Packet.json = saved
