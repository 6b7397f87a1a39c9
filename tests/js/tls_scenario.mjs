// Repeats one round trip over wss:// against a tests/engine_ws/ws_app.py
// server with the official socket.io-client, and prints one JSON document.
//
//   node tls_scenario.mjs https://127.0.0.1:PORT ROUNDS
//
// Each round connects (WebSocket only, then long-polling with the upgrade),
// calls `echo` with an ack, asks for a `burst` of 3 `item` events and
// disconnects.  node's client reads and writes its TLS socket from one event
// loop, so unlike python-socketio's client (see test_tls.py) a lost message
// here can only be the server's.  The certificate is self-signed.
import { io } from 'socket.io-client';

const [url, roundsArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: node tls_scenario.mjs <https url> [rounds]');
  process.exit(2);
}
const ROUNDS = Number(roundsArg || 10);
const STEP_TIMEOUT = 5000;

function step(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout waiting for ${what}`)),
                       STEP_TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function round(transports) {
  const socket = io(url, {
    transports, rejectUnauthorized: false, reconnection: false,
    forceNew: true, timeout: STEP_TIMEOUT,
  });
  try {
    await step(new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    }), 'connect');
    if (transports.length > 1) {
      // a round counts only once the upgrade has happened
      if (socket.io.engine.transport.name !== 'websocket') {
        await step(new Promise((resolve) => socket.io.engine.once(
          'upgrade', resolve)), 'upgrade');
      }
    }
    const answer = await step(socket.timeout(STEP_TIMEOUT).emitWithAck(
      'echo', 'over tls ✓', { n: 1 }), 'echo ack');
    const items = [];
    const got = new Promise((resolve) => socket.on('item', (i) => {
      items.push(i);
      if (items.length === 3) resolve();
    }));
    socket.emit('burst', 3);
    await step(got, 'burst items');
    return { transport: socket.io.engine.transport.name, answer, items };
  } catch (err) {
    return { error: String(err && err.message || err) };
  } finally {
    socket.disconnect();
  }
}

const results = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const transports of [['websocket'], ['polling', 'websocket']]) {
    results.push(await round(transports));
  }
}
process.stdout.write(JSON.stringify(results) + '\n');
process.exit(0);
