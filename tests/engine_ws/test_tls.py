"""TLS, served the way the Flask-SocketIO docs show for each server:
``socketio.run(app, ssl_context=(cert, key))`` with Werkzeug and
``socketio.run(app, certfile=..., keyfile=...)`` with eventlet and gevent.

Our WebSocket driver does not serve TLS sockets: those requests take
python-engineio's own WebSocket path, and the server's log and the
engine's ``fast_path`` say so.  Where that path cannot work either (plain
pywsgi with gevent-websocket installed but not its handler), the upgrade is
refused with a plain 400 and a WARNING, and clients stay on long-polling.

The certificate is self-signed, made for the test session with the
``openssl`` command line tool (or the ``cryptography`` package).

python-socketio's client over ``wss://`` reads its TLS socket on one thread
while it writes on another (websocket-client shares one ``ssl.SSLSocket``
between them, and OpenSSL's connection object is not safe to use from two
threads at once).  Now and then the reader then sees a false end of stream
right as the writer sends, and the client drops a connection the server
kept: measured here 5 lost rounds in 100 against our eventlet server and 1
in 200 against stock Flask-SocketIO's, and none in 200 against either once
the client's reads and writes of that socket are serialized.  The Python
client tests therefore serialize them (``serialized_client_tls``); the
official JavaScript client, single-threaded, runs the same rounds as is.
"""

import datetime
import selectors
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import socketio

from .rawclient import RawWebSocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'apps'))
from serverprocs import JS_DIR, node_missing, run_json_script  # noqa: E402

pytestmark = [pytest.mark.realsock, pytest.mark.timeout(60),
              pytest.mark.filterwarnings(
                  'ignore::urllib3.exceptions.InsecureRequestWarning')]


def _make_cert(directory):
    cert, key = directory / 'cert.pem', directory / 'key.pem'
    if shutil.which('openssl'):
        subprocess.run(
            ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
             'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', str(key),
             '-out', str(cert), '-days', '2', '-subj', '/CN=127.0.0.1',
             '-addext', 'subjectAltName=IP:127.0.0.1'],
            check=True, capture_output=True, timeout=30)
        return cert, key
    try:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        pytest.skip('neither the openssl tool nor cryptography is available')
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), False)
        .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert, key


@pytest.fixture(scope='session')
def cert_files(tmp_path_factory):
    return _make_cert(tmp_path_factory.mktemp('tls'))


@pytest.fixture
def serialized_client_tls(monkeypatch):
    """Make websocket-client's reader and writer threads take turns on each
    TLS socket it opens.  The reader waits for readability without the
    socket's lock, then reads without blocking while holding it; sends and
    timeout changes hold it too (``WebSocket.close()`` sets a timeout from
    the main thread while the reader thread is reading)."""
    import websocket
    from websocket import _core, _http, _socket

    stock_wrap, stock_recv, stock_send = (_http._ssl_socket, _socket.recv,
                                          _socket.send)

    def wrap(*args, **kwargs):
        sock = stock_wrap(*args, **kwargs)
        lock = threading.RLock()
        set_timeout = sock.settimeout

        def settimeout(value):
            with lock:
                set_timeout(value)

        sock.settimeout = settimeout
        sock.serialized = (lock, set_timeout)
        return sock

    def recv(sock, bufsize):
        if not hasattr(sock, 'serialized'):
            return stock_recv(sock, bufsize)
        lock, set_timeout = sock.serialized
        while True:
            if not sock.pending():
                with selectors.DefaultSelector() as selector:
                    selector.register(sock, selectors.EVENT_READ)
                    if not selector.select(sock.gettimeout()):
                        raise websocket.WebSocketTimeoutException(
                            'Connection timed out waiting for data')
            with lock:
                timeout = sock.gettimeout()
                set_timeout(0)
                try:
                    data = sock.recv(bufsize)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                finally:
                    set_timeout(timeout)
            if not data:
                raise websocket.WebSocketConnectionClosedException(
                    'Connection to remote host was lost.')
            return data

    def send(sock, data):
        if not hasattr(sock, 'serialized'):
            return stock_send(sock, data)
        with sock.serialized[0]:
            return stock_send(sock, data)

    monkeypatch.setattr(_http, '_ssl_socket', wrap)
    for module in (_socket, _core):
        monkeypatch.setattr(module, 'recv', recv)
        monkeypatch.setattr(module, 'send', send)


def tls_client():
    """A python-socketio client that accepts the self-signed certificate.

    (Its own HTTP session: ``requests`` would otherwise let a
    REQUESTS_CA_BUNDLE in the environment turn verification back on.)"""
    session = requests.Session()
    session.verify = False
    session.trust_env = False
    return socketio.Client(reconnection=False, ssl_verify=False,
                           http_session=session)


def round_trip(url, transports):
    client = tls_client()
    client.connect(url, transports=list(transports), wait_timeout=10)
    try:
        transport = client.transport()
        answer = client.call('echo', ('over tls ✓', {'n': 1}), timeout=10)
        got = []
        client.on('item', got.append)
        client.emit('burst', 3)
        for _ in range(500):
            if len(got) == 3:
                break
            client.sleep(0.01)
        return transport, answer, got
    finally:
        client.disconnect()


# (variant, the reason the log gives)
SERVED = {
    'threading': 'TLS socket (Werkzeug ssl_context)',
    'eventlet': 'TLS socket (eventlet)',
    'gevent-run': 'TLS socket (gevent)',
}


@pytest.fixture
def tls_server(ws_servers, cert_files, request):
    cert, key = cert_files
    return ws_servers(request.param, certfile=str(cert), keyfile=str(key))


@pytest.mark.parametrize('tls_server', sorted(SERVED), indirect=True)
def test_websocket_over_tls_takes_the_stock_path_and_says_so(
        tls_server, serialized_client_tls):
    before = tls_server.health()['ws_sessions']
    for _ in range(2):
        for transports in (('websocket',), ('polling', 'websocket')):
            transport, answer, got = round_trip(tls_server.url, transports)
            assert transport == 'websocket'
            assert answer == ['over tls ✓', {'n': 1}]
            assert got == [0, 1, 2]
    health = tls_server.health()
    reason = SERVED[tls_server.variant]
    # not our driver (it does not read TLS), and never silently
    assert health['ws_sessions'] == before
    assert health['ws_fallbacks'].get(reason, 0) >= 2
    assert health['engine_fast_path'].startswith(
        f'stock engine.io WebSocket here ({reason}')
    assert (f'flask-socketio-fast: engine: WebSocket takes the stock '
            f'engine.io path ({reason})') in tls_server.output()


@pytest.mark.node
@pytest.mark.parametrize('impl', ['flask_socketio_fast', 'flask_socketio'])
@pytest.mark.parametrize('variant', sorted(SERVED))
def test_official_js_client_over_tls(ws_servers, cert_files, variant, impl):
    if node_missing():
        pytest.skip(node_missing())
    cert, key = cert_files
    server = ws_servers(variant, impl=impl, certfile=str(cert),
                        keyfile=str(key))
    rounds = 10
    results = run_json_script(
        ['node', str(JS_DIR / 'tls_scenario.mjs'), server.url, str(rounds)],
        timeout=50, cwd=JS_DIR)
    expected = {'transport': 'websocket', 'answer': ['over tls ✓', {'n': 1}],
                'items': [0, 1, 2]}
    assert results == [expected] * (2 * rounds), server.output()[-3000:]


@pytest.mark.parametrize('tls_server', ['gevent-pywsgi'], indirect=True)
def test_plain_pywsgi_over_tls_refuses_websocket_cleanly(tls_server):
    # python-engineio needs gevent-websocket's handler here (it is
    # installed) and would raise out of every upgrade request
    transport, answer, _ = round_trip(tls_server.url, ('polling',
                                                       'websocket'))
    assert transport == 'polling'
    assert answer == ['over tls ✓', {'n': 1}]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with RawWebSocket(tls_server.port, ssl_context=context) as ws:
        assert ws.status.split()[1] == '400'
    log = tls_server.output()
    assert 'WebSocket requests are refused (TLS socket (gevent)' in log
    assert 'RuntimeError' not in log
