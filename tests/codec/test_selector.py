"""The implementation selector: environment switches, the fallback reason,
log lines, and that a missing extension is never taken silently."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import flask_socketio_fast
from flask_socketio_fast import _speedups

from .conftest import NO_EXTENSIONS

PACKAGE_PARENT = str(pathlib.Path(flask_socketio_fast.__file__).parent.parent)

PROBE = r'''
import json, logging, sys
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append([record.levelname, record.getMessage()])
logging.getLogger('flask_socketio_fast').addHandler(Keep())
logging.getLogger('flask_socketio_fast').setLevel(logging.DEBUG)
for name in sys.argv[1:]:
    sys.modules['flask_socketio_fast._speedups.' + name] = None  # missing
try:
    from flask_socketio_fast import _speedups
except ImportError as exc:
    print(json.dumps({'import_error': str(exc)}))
    raise SystemExit(0)
_speedups.log_active()
print(json.dumps({
    'implementation': _speedups.IMPLEMENTATION,
    'reason': _speedups.FALLBACK_REASON,
    'describe': _speedups.describe(),
    'packet': _speedups.packet.__name__,
    'eio': _speedups.eio.__name__,
    'records': records,
}))
'''


def probe(*blocked, **env):
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith('FLASK_SOCKETIO_FAST_')}
    environ['PYTHONPATH'] = os.pathsep.join(
        [PACKAGE_PARENT] + ([environ['PYTHONPATH']]
                            if environ.get('PYTHONPATH') else []))
    environ.update(env)
    out = subprocess.run([sys.executable, '-c', PROBE, *blocked], env=environ,
                         capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


needs_c = pytest.mark.skipif(
    NO_EXTENSIONS, reason='pure-Python run (FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1)')


@needs_c
def test_compiled_by_default():
    result = probe()
    assert result['implementation'] == 'c'
    assert result['reason'] is None
    assert result['packet'].endswith('.packet_c')
    assert result['eio'].endswith('.eio_c')
    assert ['DEBUG', result['describe']] in result['records']
    assert ['INFO', result['describe']] in result['records']
    assert 'compiled' in result['describe']


def test_no_extensions_forces_pure_python():
    result = probe(FLASK_SOCKETIO_FAST_NO_EXTENSIONS='1')
    assert result['implementation'] == 'python'
    assert 'FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1' in result['reason']
    assert result['packet'].endswith('.packet_py')
    assert result['eio'].endswith('.eio_py')
    # chosen on purpose: reported at INFO, not as a warning
    assert ['INFO', result['describe']] in result['records']


@pytest.mark.parametrize('blocked', ['packet_c', 'eio_c'])
def test_missing_extension_falls_back_loudly(blocked):
    result = probe(blocked)
    assert result['implementation'] == 'python'
    assert blocked in result['reason']
    assert result['packet'].endswith('.packet_py')
    assert result['eio'].endswith('.eio_py')
    assert ['DEBUG', result['describe']] in result['records']
    assert ['WARNING', result['describe']] in result['records']
    assert blocked in result['describe']


def test_require_extensions_makes_missing_one_an_import_error():
    result = probe('packet_c', FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')
    assert 'packet_c' in result['import_error']
    assert 'FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1' in result['import_error']


@needs_c
def test_require_extensions_with_extensions_present():
    assert probe(FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')[
        'implementation'] == 'c'


def test_contradicting_switches_are_an_import_error():
    result = probe(FLASK_SOCKETIO_FAST_NO_EXTENSIONS='1',
                   FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')
    assert 'contradict' in result['import_error']


def test_in_process_attributes_agree():
    assert _speedups.IMPLEMENTATION in ('c', 'python')
    assert (_speedups.FALLBACK_REASON is None) == \
        (_speedups.IMPLEMENTATION == 'c')
    assert _speedups.packet.IMPLEMENTATION == _speedups.IMPLEMENTATION
    assert _speedups.eio.IMPLEMENTATION == _speedups.IMPLEMENTATION
    assert flask_socketio_fast.IMPLEMENTATION == _speedups.IMPLEMENTATION
    assert '\n' not in _speedups.describe()
    for name in ('c', 'python', 'py'):
        if name == 'c' and NO_EXTENSIONS:
            continue
        mods = _speedups.load(name)
        assert set(vars(mods)) == {'implementation', *_speedups.MODULES}


def test_codec_twins_have_the_same_api():
    if NO_EXTENSIONS:
        pytest.skip('pure-Python run (FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1)')
    py, c = _speedups.load('python'), _speedups.load('c')
    for name in ('packet', 'eio'):
        public = {n for n in dir(getattr(py, name)) if not n.startswith('_')}
        compiled = {n for n in dir(getattr(c, name)) if not n.startswith('_')}
        # the pure twin also shows the modules it imports
        assert public - compiled <= {'base64', 'orjson', 're', 'urllib'}
        assert compiled - public == set()


def test_outbox_twins_have_the_same_api():
    if NO_EXTENSIONS:
        pytest.skip('pure-Python run (FLASK_SOCKETIO_FAST_NO_EXTENSIONS=1)')
    py, c = _speedups.load('python'), _speedups.load('c')
    # the compiled outbox also offers its lock class
    assert set(c.outbox.__all__) == set(py.outbox.__all__) | {'Lock'}
    for mod in (py.outbox, c.outbox):
        assert isinstance(mod.NATIVE_SEND, bool)
    assert py.outbox.MAX_FRAMES_PER_SEND == c.outbox.MAX_FRAMES_PER_SEND


def test_describe_says_when_sends_are_not_native(monkeypatch):
    if _speedups.IMPLEMENTATION != 'c':
        pytest.skip('pure-Python run')
    assert 'socket objects' not in _speedups.describe() or \
        not _speedups.outbox.NATIVE_SEND
    fake = type('Mod', (), {'NATIVE_SEND': False})
    monkeypatch.setattr(_speedups, 'outbox', fake)
    assert 'sends go through socket objects' in _speedups.describe()
