// Drives one tests/apps/cluster_app.py server with the official socket.io-client
// and prints the observed results as one JSON document on stdout.
//
//   node client_scenario.mjs http://127.0.0.1:PORT
//
// The scenario runs twice: over WebSocket only, and over long-polling with the
// upgrade to WebSocket. Results hold plain data only (no sids, no timings), so
// runs against flask_socketio and flask_socketio_fast can be compared for
// equality. A failing step records {error: ...} instead of aborting the run,
// so a difference shows up as a precise diff rather than a crash.
import { io } from 'socket.io-client';

const url = process.argv[2];
if (!url) {
  console.error('usage: node client_scenario.mjs <server url>');
  process.exit(2);
}
const STEP_TIMEOUT = 5000;
const TOTAL_TIMEOUT = 45000;

const results = {};

// Never hang the test suite: print what we have and fail.
setTimeout(() => {
  results.fatal = `scenario did not finish in ${TOTAL_TIMEOUT} ms`;
  process.stdout.write(JSON.stringify(results) + '\n');
  process.exit(3);
}, TOTAL_TIMEOUT).unref();

const TRANSPORTS = {
  websocket: ['websocket'],
  polling: ['polling', 'websocket'],
};

function withTimeout(promise, what, ms = STEP_TIMEOUT) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves with the argument list of the next `event` on `emitter`.
// Created before the action that triggers the event, and possibly never
// awaited when that action fails, hence the silenced rejection.
function next(emitter, event) {
  const promise = withTimeout(new Promise((resolve) => {
    emitter.once(event, (...args) => resolve(args));
  }), `event '${event}'`);
  promise.catch(() => {});
  return promise;
}

// Emits and resolves with every value of the server's ack.
function call(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(STEP_TIMEOUT).emit(event, ...args, (err, ...values) => {
      if (err) reject(new Error(`no ack for '${event}': ${err.message}`));
      else resolve(values);
    });
  });
}

// JSON view of binary values: {bytes: hex}, matching cluster_app's describe().
function describe(value) {
  if (Buffer.isBuffer(value)) return { bytes: value.toString('hex') };
  if (value instanceof ArrayBuffer) return { bytes: Buffer.from(value).toString('hex') };
  if (ArrayBuffer.isView(value)) {
    return { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  }
  if (Array.isArray(value)) return value.map(describe);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v)]));
  }
  return value;
}

// Which JS type a received binary value has (Buffer in node for both transports).
function binaryKinds(value) {
  if (Buffer.isBuffer(value)) return 'Buffer';
  if (value instanceof ArrayBuffer) return 'ArrayBuffer';
  if (Array.isArray(value)) return value.map(binaryKinds);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, binaryKinds(v)]));
  }
  return typeof value;
}

// Opens a socket on its own engine connection; resolves once connected.
// Also records the transport the engine opened with and, for polling, a
// promise for the upgrade.
function connect(transports, opts = {}) {
  const socket = io(url, {
    transports, forceNew: true, reconnection: false, timeout: STEP_TIMEOUT, ...opts,
  });
  const info = { openedWith: null, upgraded: null };
  info.upgraded = new Promise((resolve) => {
    socket.io.once('open', () => {
      const engine = socket.io.engine;
      info.openedWith = engine.transport.name;
      if (engine.transport.name === 'websocket') resolve('websocket');
      else engine.once('upgrade', (transport) => resolve(transport.name));
    });
  });
  const connected = new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
  return { socket, info, connected: withTimeout(connected, 'connect') };
}

// Collects every occurrence of `event` on `socket`.
function record(socket, event) {
  const seen = [];
  socket.on(event, (...args) => seen.push(args));
  return seen;
}

async function scenario(transports) {
  const r = {};
  const opened = [];
  const step = async (name, fn) => {
    try {
      r[name] = await fn();
    } catch (err) {
      r[name] = { error: String(err && err.message ? err.message : err) };
    }
  };

  let alice;
  let bob;
  await step('connect', async () => {
    const a = connect(transports, { auth: { token: 'good', user: 'alice' } });
    opened.push(a.socket);
    alice = await a.connected;
    const upgradedTo = await withTimeout(a.info.upgraded, 'transport upgrade');
    return { connected: alice.connected, openedWith: a.info.openedWith, upgradedTo };
  });
  if (!alice) return r;

  await step('whoami', () => call(alice, 'whoami'));
  await step('echo', () => call(alice, 'echo', 1, 'two', { three: [3] }, null));
  await step('echo_with_ack_promise', () => alice.timeout(STEP_TIMEOUT).emitWithAck('echo', 'single'));

  await step('binary', async () => {
    const reply = next(alice, 'binary_reply');
    const sent = {
      buffer: Buffer.from([1, 2, 3, 255]),
      arraybuffer: new Uint8Array([4, 5, 6]).buffer,
      nested: [Buffer.from('hi'), { deep: Buffer.alloc(0) }],
      text: 'not binary',
    };
    const ack = await call(alice, 'binary', sent);
    const [received] = await reply;
    return { serverSaw: ack, reply: describe(received), replyKinds: binaryKinds(received) };
  });

  await step('binary_top_level', async () => {
    const reply = next(alice, 'binary_reply');
    const ack = await call(alice, 'binary', Buffer.from('abc'));
    const [received] = await reply;
    return { serverSaw: ack, reply: describe(received), replyKinds: binaryKinds(received) };
  });

  await step('server_to_client_ack', async () => {
    alice.once('need_ack', (data, ack) => ack('pong', data, Buffer.from([9])));
    const result = next(alice, 'ack_result');
    const asked = await call(alice, 'ask', { q: 1 });
    const [values] = await result;
    return { asked, values: describe(values) };
  });

  await step('rooms', async () => {
    const b = connect(transports, { auth: { token: 'good', user: 'bob' } });
    opened.push(b.socket);
    bob = await b.connected;
    const aliceRoom = record(alice, 'room_msg');
    const bobRoom = record(bob, 'room_msg');
    const out = {};
    out.aliceJoined = await call(alice, 'join', 'lobby');
    // bob is not a member: alice gets it; bob would have got it before his
    // ack (same connection, same order), so checking after the ack is exact
    const aliceGot1 = next(alice, 'room_msg');
    out.bobSent = await call(bob, 'to_room', { room: 'lobby', event: 'room_msg', data: { n: 1 } });
    out.bobSawOwnAfterAck = bobRoom.length;
    out.aliceGot1 = (await aliceGot1)[0];
    out.bobJoined = await call(bob, 'join', 'lobby');
    const bobGot2 = next(bob, 'room_msg');
    out.aliceSent = await call(alice, 'to_room', { room: 'lobby', event: 'room_msg', data: { n: 2 } });
    out.aliceGot2 = aliceRoom.slice(1).map((args) => args[0]);
    out.bobGot2 = (await bobGot2)[0];
    out.aliceLeft = await call(alice, 'leave', 'lobby');
    return out;
  });

  await step('broadcast', async () => {
    if (!bob) throw new Error('no second client');
    const bobGot = next(bob, 'broadcast_msg');
    const aliceGot = next(alice, 'broadcast_msg');
    const sent = await call(alice, 'broadcast', { hello: 'all' });
    return { sent, alice: (await aliceGot)[0], bob: (await bobGot)[0] };
  });

  await step('namespace_chat', async () => {
    // multiplexed on alice's engine connection; Manager.socket() connects by
    // itself (a second connect() would send a second CONNECT packet)
    const chat = alice.io.socket('/chat');
    await withTimeout(new Promise((resolve, reject) => {
      chat.once('connect', resolve);
      chat.once('connect_error', reject);
    }), 'connect to /chat');
    const got = next(chat, 'chat');
    const ack = await call(chat, 'chat', 'hello');
    const [event] = await got;
    const whoami = await call(chat, 'whoami');
    chat.disconnect();
    return { ack, event, whoami };
  });

  await step('server_disconnect', async () => {
    const reason = next(alice, 'disconnect');
    alice.emit('kick');
    const [why] = await reason;
    return { reason: why, connected: alice.connected };
  });

  const rejected = async (auth) => {
    const c = connect(transports, { auth });
    opened.push(c.socket);
    try {
      await c.connected;
      return { connected: true };
    } catch (err) {
      return { message: err.message, data: err.data === undefined ? null : err.data };
    }
  };
  await step('rejected_with_data', () => rejected({ token: 'bad' }));
  await step('rejected_false', () => rejected({ token: 'deny' }));

  for (const s of opened) s.close();
  return r;
}

for (const [name, transports] of Object.entries(TRANSPORTS)) {
  // sequential: each scenario's broadcasts must not reach the other's sockets
  results[name] = await scenario(transports);
}
process.stdout.write(JSON.stringify(results) + '\n');
process.exit(0);
