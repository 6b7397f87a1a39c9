"""The build: compiled wheel from the sdist, pure-Python fallback without a
compiler (with a warning), a hard failure when extensions are required, and
the pure-Python wheel.  Slow-ish: marked ``build`` (see conftest)."""

import json
import sys
import tarfile
import zipfile

from .conftest import pip_wheel, run

PROBE = r'''
import json, flask_socketio_fast
from flask_socketio_fast import _speedups
from flask_socketio_fast.packet import Packet
print(json.dumps({
    'implementation': _speedups.IMPLEMENTATION,
    'reason': _speedups.FALLBACK_REASON,
    'package': flask_socketio_fast.__file__,
    'modules': [_speedups.packet.__file__, _speedups.eio.__file__],
    'wire': Packet(2, data=['chat', b'x']).encode()[0],
}))
'''

CODEC = ('flask_socketio_fast/_speedups/packet_c', 'flask_socketio_fast/'
         '_speedups/eio_c')


def probe(python, **env):
    out = run([python, '-c', PROBE], **env).stdout
    return json.loads(out.strip().splitlines()[-1])


def wheel_names(path):
    with zipfile.ZipFile(path) as whl:
        return whl.namelist()


def compiled_in(names):
    return [n for n in names if n.endswith(('.so', '.pyd'))]


def test_sdist_has_sources_not_generated_code(sdist):
    with tarfile.open(sdist) as tar:
        names = [n.split('/', 1)[1] for n in tar.getnames() if '/' in n]
    for needed in ('setup.py', 'pyproject.toml', 'src/_speedups/packet_c.pyx',
                   'src/_speedups/eio_c.pyx',
                   'src/flask_socketio_fast/_speedups/packet_py.py',
                   'src/flask_socketio_fast/_speedups/eio_py.py',
                   'tests/codec/test_packet.py',
                   'tests/codec/wheel-tests.ini'):
        assert needed in names
    assert not [n for n in names if n.endswith(('.c', '.so', '.pyd'))]


def test_wheel_contains_compiled_modules(compiled_wheel):
    path, _ = compiled_wheel
    tag = f'cp{sys.version_info[0]}{sys.version_info[1]}'
    assert f'-{tag}-{tag}-' in path.name
    names = compiled_in(wheel_names(path))
    for module in CODEC:
        assert [n for n in names if n.startswith(module + '.')], names


def test_wheel_installs_into_fresh_venv_and_runs_compiled(compiled_wheel,
                                                          fresh_venv):
    path, source = compiled_wheel
    python = fresh_venv(path)
    venv = str(python.parent.parent)
    result = probe(python, FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')
    assert result['implementation'] == 'c'
    assert result['reason'] is None
    assert result['package'].startswith(venv)
    assert all(m.startswith(venv) and m.endswith('.so')
               for m in result['modules'])
    assert result['wire'] == '51-["chat",{"_placeholder":true,"num":0}]'
    # the sdist's own codec tests pass against the installed wheel
    run([python, '-m', 'pytest', '-q', '-x', '-c',
         source / 'tests/codec/wheel-tests.ini', '--rootdir',
         source / 'tests', source / 'tests/codec/test_packet.py',
         source / 'tests/codec/test_selector.py'], cwd=source / 'tests',
        FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')


def test_no_compiler_installs_pure_python_with_warning(unpacked_sdist,
                                                       fresh_venv, tmp_path):
    out = tmp_path / 'wheel'
    result = pip_wheel(unpacked_sdist, out, CC='false')
    assert 'WARNING: flask-socketio-fast could not build extension ' \
        'flask_socketio_fast._speedups.packet_c' in result.stdout
    (path,) = out.glob('*.whl')
    assert compiled_in(wheel_names(path)) == []
    python = fresh_venv(path)
    info = probe(python)
    assert info['implementation'] == 'python'
    assert 'compiled extensions not importable' in info['reason']
    assert info['wire'] == '51-["chat",{"_placeholder":true,"num":0}]'
    # the same install with extensions required refuses to import
    failed = run([python, '-c', 'import flask_socketio_fast'], check=False,
                 FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')
    assert failed.returncode != 0
    assert 'ImportError' in failed.stdout


def test_no_compiler_with_require_extensions_fails(unpacked_sdist, tmp_path):
    result = pip_wheel(unpacked_sdist, tmp_path / 'wheel', check=False,
                       CC='false', FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')
    assert result.returncode != 0
    assert 'FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS=1 is set' in result.stdout
    assert not list((tmp_path / 'wheel').glob('*.whl'))


def test_pure_python_wheel(unpacked_sdist, tmp_path, fresh_venv):
    out = tmp_path / 'wheel'
    pip_wheel(unpacked_sdist, out, FLASK_SOCKETIO_FAST_NO_EXTENSIONS='1')
    (path,) = out.glob('*.whl')
    assert path.name.endswith('-py3-none-any.whl')
    assert compiled_in(wheel_names(path)) == []
    info = probe(fresh_venv(path), FLASK_SOCKETIO_FAST_NO_EXTENSIONS='1')
    assert info['implementation'] == 'python'
