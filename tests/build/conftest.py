"""Session fixtures for the build tests: one copy of the source tree, one
sdist, one compiled wheel built from it, and throwaway venvs.

Every build happens in a temporary directory (never in the working tree, so
concurrent ``make build`` runs are not disturbed).  Select these tests with
``-m build``, leave them out with ``-m "not build"``.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = ['setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'src',
           'tests/codec']
IGNORE = shutil.ignore_patterns('*.so', '*.pyd', '*.c', '*.html',
                                '__pycache__', '*.egg-info', '.hypothesis')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'build: builds the sdist/wheels (about two minutes)')


def pytest_collection_modifyitems(items):
    for item in items:
        if pathlib.Path(str(item.fspath)).parent == pathlib.Path(__file__).parent:
            item.add_marker(pytest.mark.build)
            item.add_marker(pytest.mark.timeout(900))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('FLASK_SOCKETIO_FAST_') and k not in (
               'PYTHONPATH', 'CC', 'LDSHARED')}
    env.update(extra)
    return env


def run(cmd, cwd=None, check=True, **env):
    """Run a command; returns the CompletedProcess (stdout+stderr merged)."""
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=clean_env(
        **env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f'{cmd} failed ({result.returncode}):\n'
                             f'{result.stdout[-6000:]}')
    return result


def pip_wheel(source, outdir, check=True, **env):
    """``pip wheel`` without build isolation (the venv has the build
    requirements; isolation would only download them again)."""
    return run([sys.executable, '-m', 'pip', 'wheel', '-v', '--no-deps',
                '--no-build-isolation', '--no-cache-dir', '-w', outdir,
                source], check=check, **env)


@pytest.fixture(scope='session')
def source_copy(tmp_path_factory):
    dest = tmp_path_factory.mktemp('source') / 'flask-socketio-fast'
    dest.mkdir()
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope='session')
def sdist(source_copy, tmp_path_factory):
    out = tmp_path_factory.mktemp('sdist')
    run([sys.executable, '-m', 'build', '--sdist', '--no-isolation',
         '--outdir', out, source_copy])
    (path,) = out.glob('*.tar.gz')
    return path


@pytest.fixture
def unpacked_sdist(sdist, tmp_path):
    """A fresh unpacked sdist per test (builds write into it)."""
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path)
    (root,) = tmp_path.iterdir()
    return root


@pytest.fixture(scope='session')
def compiled_wheel(sdist, tmp_path_factory):
    work = tmp_path_factory.mktemp('wheel-src')
    with tarfile.open(sdist) as tar:
        tar.extractall(work)
    (root,) = work.iterdir()
    out = tmp_path_factory.mktemp('wheel')
    pip_wheel(root, out, FLASK_SOCKETIO_FAST_REQUIRE_EXTENSIONS='1')
    (path,) = out.glob('*.whl')
    return path, root


def _deps_path():
    # the running venv's site-packages provides Flask, python-socketio, ...
    return sysconfig.get_paths()['purelib']


@pytest.fixture
def fresh_venv(tmp_path):
    """A new venv (no pip) whose dependencies resolve from this venv, after
    its own site-packages, so only an installed wheel can provide
    flask_socketio_fast."""
    def make(wheel):
        venv = tmp_path / 'venv'
        run([sys.executable, '-m', 'venv', '--without-pip', venv])
        python = venv / 'bin' / 'python'
        site = run([python, '-c', 'import sysconfig; '
                    'print(sysconfig.get_paths()["purelib"])']).stdout.strip()
        pathlib.Path(site, '_fsf_test_deps.pth').write_text(_deps_path() + '\n')
        run([sys.executable, '-m', 'pip', '--python', python, 'install',
             '--no-deps', '--no-index', wheel])
        return python
    return make
