"""Which python-socketio client manager a ``message_queue=`` URL selects.

In-process and offline: nothing here connects to a queue. Kafka and ZeroMQ
managers need packages the suite does not install, so the upstream choice is
observed through stand-in manager classes.

flask_socketio_fast routes by URL scheme (``flask_socketio_fast.queues.
manager_class_for_url``); Flask-SocketIO 5.7 sends every scheme it does not
know, including ``valkey://`` and ``redis+sentinel://`` which python-socketio's
RedisManager supports, to Kombu. The upstream behaviour is asserted too so the
difference (docs/differences.md) is pinned by a test. Servers are built in
threading mode so that nothing imports eventlet into the test process.
"""
import importlib
import sys
from pathlib import Path

import pytest
import socketio

SRC = Path(__file__).resolve().parents[2] / 'src'

REDIS_URLS = [
    'redis://127.0.0.1:6379/0',
    'rediss://user:secret@redis.example.com:6380/1',
    'valkey://127.0.0.1:6379/0',
    'redis+sentinel://:secret@s1.example.com:26379,s2.example.com:26379'
    '/0/mymaster',
]
OTHER_URLS = [
    ('kafka://127.0.0.1:9092', 'KafkaManager'),
    ('zmq+tcp://127.0.0.1:5555+5556', 'ZmqManager'),
    ('amqp://guest:guest@127.0.0.1:5672//', 'KombuManager'),
]
MANAGERS = ('RedisManager', 'KafkaManager', 'ZmqManager', 'KombuManager')


def import_fast(module='flask_socketio_fast'):
    """Import from the installed package, else from the source tree."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if str(SRC) not in sys.path:
            sys.path.insert(0, str(SRC))
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            pytest.skip(f'{module} is not importable: {exc}')


@pytest.fixture
def fake_managers(monkeypatch):
    """Replace python-socketio's queue managers by recorders; returns the
    list of (manager name, url, channel, write_only) constructed."""
    made = []

    def fake(name):
        class Fake(socketio.Manager):
            def __init__(self, url, channel='socketio', write_only=False,
                         **kwargs):
                super().__init__()
                made.append((name, url, channel, write_only))
        Fake.__name__ = name
        return Fake

    for name in MANAGERS:
        monkeypatch.setattr(socketio, name, fake(name))
    return made


@pytest.mark.parametrize('url', REDIS_URLS)
def test_fast_redis_schemes_pick_redis_manager(url):
    queues = import_fast('flask_socketio_fast.queues')
    assert issubclass(queues.manager_class_for_url(url), socketio.RedisManager)


@pytest.mark.parametrize('url, manager', OTHER_URLS)
def test_fast_other_schemes(url, manager):
    queues = import_fast('flask_socketio_fast.queues')
    chosen = queues.manager_class_for_url(url)
    assert issubclass(chosen, getattr(socketio, manager))
    assert not issubclass(chosen, socketio.RedisManager)


@pytest.mark.parametrize('url', ['REDIS://127.0.0.1:6379/0',
                                 'Valkey://127.0.0.1:6379/0'])
def test_fast_scheme_is_case_insensitive(url):
    queues = import_fast('flask_socketio_fast.queues')
    assert issubclass(queues.manager_class_for_url(url), socketio.RedisManager)


@pytest.mark.parametrize('url, manager', [
    ('redis://127.0.0.1:6379/0', 'RedisManager'),
    ('rediss://127.0.0.1:6380/0', 'RedisManager'),
    # the upstream bug: RedisManager understands these, Kombu gets them
    ('valkey://127.0.0.1:6379/0', 'KombuManager'),
    ('redis+sentinel://127.0.0.1:26379/0/mymaster', 'KombuManager'),
    ('kafka://127.0.0.1:9092', 'KafkaManager'),
    ('zmq+tcp://127.0.0.1:5555+5556', 'ZmqManager'),
    ('amqp://guest:guest@127.0.0.1:5672//', 'KombuManager'),
])
def test_upstream_selection(fake_managers, url, manager):
    import flask_socketio

    flask_socketio.SocketIO(message_queue=url, async_mode='threading')
    assert fake_managers == [(manager, url, 'flask-socketio', True)]


@pytest.mark.parametrize('impl', ['flask_socketio', 'flask_socketio_fast'])
@pytest.mark.parametrize('url, manager', [
    ('redis://127.0.0.1:6379/0', socketio.RedisManager),
    ('rediss://127.0.0.1:6380/0', socketio.RedisManager),
    ('amqp://guest:guest@127.0.0.1:5672//', socketio.KombuManager),
])
def test_emitter_without_app_is_write_only(impl, url, manager):
    # these managers connect lazily, so the real classes can be built offline
    fsio = (import_fast() if impl == 'flask_socketio_fast'
            else importlib.import_module(impl))
    sio = fsio.SocketIO(message_queue=url, async_mode='threading')
    assert isinstance(sio.server.manager, manager)
    assert sio.server.manager.write_only is True
    assert sio.server.manager.channel == 'flask-socketio'


@pytest.mark.parametrize('impl', ['flask_socketio', 'flask_socketio_fast'])
def test_channel_and_app_make_a_read_write_manager(impl):
    from flask import Flask

    fsio = (import_fast() if impl == 'flask_socketio_fast'
            else importlib.import_module(impl))
    sio = fsio.SocketIO(Flask(__name__), message_queue=REDIS_URLS[0],
                        channel='elsewhere', async_mode='threading')
    assert isinstance(sio.server.manager, socketio.RedisManager)
    assert sio.server.manager.write_only is False
    assert sio.server.manager.channel == 'elsewhere'


@pytest.mark.parametrize('url', REDIS_URLS[2:])
def test_fast_socketio_builds_redis_manager_for_new_schemes(url):
    # end to end through SocketIO: RedisManager parses these lazily
    fsio = import_fast()
    sio = fsio.SocketIO(message_queue=url, async_mode='threading')
    assert isinstance(sio.server.manager, socketio.RedisManager)
    assert sio.server.manager.redis_url == url
