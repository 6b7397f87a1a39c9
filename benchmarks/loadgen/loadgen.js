'use strict';
/*
 * Load generator for the end-to-end benchmarks.
 *
 * Speaks Engine.IO v4 / Socket.IO v5 itself, over raw WebSocket (the `ws`
 * package) or HTTP long-polling, so that the client side costs as little CPU
 * as possible and never becomes the thing being measured.  Fan-out messages
 * are counted and their sequence numbers checked straight from the frame
 * bytes; payloads are never JSON-decoded.
 *
 * It is driven by benchmarks/run.py: one JSON command per line on stdin, one
 * JSON reply per line on stdout (diagnostics go to stderr).  Commands:
 *   {"cmd":"hello"}                       connect the control client, return server info
 *   {"cmd":"connect","n":N,"transport":"websocket"|"polling","concurrency":C,"connect_timeout":S}
 *                                         grow the pool of room clients to N
 *   {"cmd":"fanout","count":M,"rate":R,"size":B,"quiet":S}
 *                                         ask the server to emit M events to the room
 *   {"cmd":"echo","clients":K,"duration":S,"depth":D}
 *                                         K clients send acked events for S seconds
 *   {"cmd":"quit"}                        close everything and exit
 */

const http = require('http');
const readline = require('readline');
const { performance } = require('perf_hooks');
const WebSocket = require('ws');

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 5000, path: '/socket.io/', deflate: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--host') opts.host = argv[++i];
    else if (a === '--port') opts.port = parseInt(argv[++i], 10);
    else if (a === '--path') opts.path = argv[++i];
    else if (a === '--deflate') opts.deflate = true;
    else throw new Error('unknown argument ' + a);
  }
  return opts;
}

const OPTS = parseArgs(process.argv.slice(2));
const BASE = `${OPTS.host}:${OPTS.port}${OPTS.path}?EIO=4`;
const AGENT = new http.Agent({ keepAlive: true, maxSockets: Infinity });

// Byte values of the protocol characters we dispatch on.
const C0 = 48, C1 = 49, C2 = 50, C3 = 51, C4 = 52, C9 = 57;
const LBRACKET = 91, QUOTE = 34, SPACE = 32, RS = 0x1e;
const KEY_I = Buffer.from('"i":');

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function log(msg) {
  process.stderr.write('[loadgen] ' + msg + '\n');
}

// Reads an unsigned decimal integer starting at pos (skipping blanks);
// returns -1 when there are no digits.
function readUint(buf, pos, end) {
  while (pos < end && buf[pos] === SPACE) pos++;
  let v = -1;
  while (pos < end) {
    const ch = buf[pos];
    if (ch < C0 || ch > C9) break;
    v = (v < 0 ? 0 : v * 10) + (ch - C0);
    pos++;
  }
  return v;
}

// ------------------------------------------------------------ phase state

// The single measurement in progress, if any; clients report into it.
let fanout = null;

function newFanout(count, nClients) {
  return {
    count, nClients, delivered: 0, lost: 0, ooo: 0, doneClients: 0,
    tStart: 0, tFirst: 0, tLast: 0, ack: null, finished: false, resolve: null,
  };
}

// --------------------------------------------------------------- clients

class BaseClient {
  constructor(id, query) {
    this.id = id;
    this.query = query;
    this.connected = false;  // Socket.IO namespace connected
    this.closing = false;
    this.next = 0;           // next expected fan-out sequence number
    this.ackId = 0;
    this.acks = new Map();   // ack id -> callback (control client)
    this.onReady = null;
    this.onFail = null;
  }

  // Dispatch one Engine.IO packet held in buf[s:e].
  packet(buf, s, e) {
    const t = buf[s];
    if (t === C4) {
      const st = buf[s + 1];
      if (st === C2) this.event(buf, s + 2, e);
      else if (st === C3) this.ack(buf, s + 2, e);
      else if (st === C0) this.nsConnected();
      else if (st === C4) this.fail('connect_error ' + buf.toString('utf8', s, e));
    } else if (t === C2) {
      this.sendRaw('3');  // pong
    } else if (t === C0) {
      this.sendRaw('40');  // engine.io open: join the default namespace
    } else if (t === C1) {
      this.lost_connection('engine.io close packet');
    }
  }

  nsConnected() {
    this.connected = true;
    if (this.onReady) { const f = this.onReady; this.onReady = null; this.onFail = null; f(this); }
  }

  fail(why) {
    if (this.onFail) { const f = this.onFail; this.onReady = null; this.onFail = null; f(why); }
    else if (!this.closing) log(`client ${this.id}: ${why}`);
  }

  lost_connection(why) {
    if (this.closing) return;
    if (this.connected) stats.disconnects++;
    this.connected = false;
    this.fail(why);
  }

  // 42["m",{"i":N,...}] -> sequence check; other events are ignored.
  event(buf, s, e) {
    const ph = fanout;
    if (ph === null || buf[s] !== LBRACKET || buf[s + 1] !== QUOTE || buf[s + 2] !== 109 /* m */ ||
        buf[s + 3] !== QUOTE) {
      return;
    }
    const k = buf.indexOf(KEY_I, s + 4);
    const i = k < 0 || k >= e ? -1 : readUint(buf, k + 4, e);
    if (i < 0) { ph.bad = (ph.bad || 0) + 1; return; }
    if (ph.tFirst === 0) { ph.tFirst = performance.now(); ph.cpuFirst = process.cpuUsage(); }
    if (i === this.next) {
      this.next = i + 1;
      ph.delivered++;
    } else if (i > this.next) {
      ph.lost += i - this.next;
      this.next = i + 1;
      ph.delivered++;
    } else {
      // an earlier number arriving late: it was counted lost at the gap
      ph.ooo++;
      ph.lost--;
      ph.delivered++;
      return;
    }
    if (this.next === ph.count) {
      ph.doneClients++;
      if (ph.doneClients === ph.nClients) {
        ph.tLast = performance.now();
        ph.cpuLast = process.cpuUsage();
        maybeFinishFanout();
      }
    }
  }

  // 43<id>[...]: an acknowledgement.
  ack(buf, s, e) {
    let id = 0, p = s;
    while (p < e && buf[p] >= C0 && buf[p] <= C9) { id = id * 10 + (buf[p] - C0); p++; }
    const cb = this.acks.get(id);
    if (cb !== undefined) {
      this.acks.delete(id);
      cb(buf, p, e);
    }
  }

  // Emit an event with an acknowledgement callback receiving (buf, start, end).
  emitAck(event, dataJson, cb) {
    const id = ++this.ackId;
    this.acks.set(id, cb);
    this.sendRaw(`42${id}["${event}"${dataJson === undefined ? '' : ',' + dataJson}]`);
  }
}

class WsClient extends BaseClient {
  open() {
    const q = this.query ? '&' + this.query : '';
    const ws = new WebSocket(`ws://${BASE}&transport=websocket${q}`, {
      perMessageDeflate: OPTS.deflate, skipUTF8Validation: true,
    });
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.packet(data, 0, data.length);
    });
    ws.on('error', (err) => this.lost_connection('websocket error: ' + err.message));
    ws.on('close', () => this.lost_connection('websocket closed'));
  }

  sendRaw(str) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(str);
  }

  close() {
    this.closing = true;
    try { this.ws.terminate(); } catch (err) { /* already gone */ }
  }
}

class PollClient extends BaseClient {
  constructor(id, query) {
    super(id, query);
    this.sid = null;
    this.outbox = [];
    this.posting = false;
  }

  url() {
    return `http://${BASE}&transport=polling&sid=${this.sid}`;
  }

  open() {
    const q = this.query ? '&' + this.query : '';
    this.get(`http://${BASE}&transport=polling${q}`, (body) => {
      // 0{"sid": ...}: the only JSON this client ever parses, once.
      if (body[0] !== C0) { this.fail('bad handshake ' + body.toString()); return; }
      this.sid = JSON.parse(body.toString('utf8', 1)).sid;
      this.sendRaw('40');
      this.poll();
    });
  }

  get(url, onBody) {
    const req = http.get(url, { agent: AGENT }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) { this.lost_connection('HTTP ' + res.statusCode); return; }
        onBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      });
    });
    req.on('error', (err) => this.lost_connection('polling error: ' + err.message));
  }

  poll() {
    if (this.closing) return;
    this.get(this.url(), (body) => {
      let s = 0;
      const n = body.length;
      while (s < n) {
        let e = body.indexOf(RS, s);
        if (e < 0) e = n;
        this.packet(body, s, e);
        s = e + 1;
      }
      if (this.connected || this.onReady) this.poll();
    });
  }

  sendRaw(str) {
    this.outbox.push(str);
    if (!this.posting) this.flush();
  }

  flush() {
    if (this.closing || this.outbox.length === 0) { this.posting = false; return; }
    this.posting = true;
    const body = this.outbox.join('\x1e');
    this.outbox = [];
    const req = http.request(this.url(), {
      method: 'POST', agent: AGENT,
      headers: { 'Content-Type': 'text/plain;charset=UTF-8', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => this.flush());
    });
    req.on('error', (err) => this.lost_connection('polling POST error: ' + err.message));
    req.end(body);
  }

  close() {
    this.closing = true;
    if (this.sid) {
      const req = http.request(this.url(), { method: 'POST', agent: AGENT }, (res) => res.resume());
      req.on('error', () => {});
      req.end('1');
    }
  }
}

// ------------------------------------------------------------- the pool

const stats = { disconnects: 0 };
let control = null;
const clients = [];

function connectOne(cls, id, query, timeoutMs) {
  return new Promise((resolve, reject) => {
    const c = new cls(id, query);
    const timer = setTimeout(() => { c.onReady = null; c.onFail = null; c.close(); reject(new Error('connect timeout')); },
      timeoutMs);
    c.onReady = (cl) => { clearTimeout(timer); resolve(cl); };
    c.onFail = (why) => { clearTimeout(timer); c.close(); reject(new Error(why)); };
    c.open();
  });
}

async function cmdHello() {
  control = await connectOne(WsClient, -1, 'role=ctl', 15000);
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer to bench_info')), 15000);
    control.emitAck('bench_info', undefined, (buf, s, e) => {
      clearTimeout(timer);
      resolve(JSON.parse(buf.toString('utf8', s, e))[0]);
    });
  });
  return { ev: 'hello', info };
}

async function cmdConnect(msg) {
  const cls = msg.transport === 'polling' ? PollClient : WsClient;
  const target = msg.n;
  const concurrency = msg.concurrency || 50;
  const timeoutMs = (msg.connect_timeout || 60) * 1000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let failed = 0;
  const errors = {};
  let nextId = clients.length;
  async function worker() {
    while (nextId < target) {
      const id = nextId++;
      try {
        clients.push(await connectOne(cls, id, 'role=client', timeoutMs));
      } catch (err) {
        failed++;
        errors[err.message] = (errors[err.message] || 0) + 1;
      }
    }
  }
  const workers = [];
  for (let k = 0; k < concurrency; k++) workers.push(worker());
  await Promise.all(workers);
  return {
    ev: 'connected', total: clients.length, failed, errors,
    elapsed_s: (performance.now() - t0) / 1000, cpu: cpuSince(cpu0, t0),
  };
}

function cpuSince(cpu0, t0) {
  const d = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const cpuS = (d.user + d.system) / 1e6;
  return { cpu_s: cpuS, wall_s: wall, pct: wall > 0 ? (100 * cpuS) / wall : 0 };
}

function cpuBetween(cpuA, tA, cpuB, tB) {
  const cpuS = (cpuB.user - cpuA.user + cpuB.system - cpuA.system) / 1e6;
  const wall = (tB - tA) / 1000;
  return { cpu_s: cpuS, wall_s: wall, pct: wall > 0 ? (100 * cpuS) / wall : 0 };
}

function maybeFinishFanout() {
  const ph = fanout;
  if (ph && !ph.finished && ph.ack !== null && (ph.doneClients === ph.nClients || ph.timedOut)) {
    ph.finished = true;
    ph.resolve();
  }
}

async function cmdFanout(msg) {
  const live = clients.filter((c) => c.connected);
  const ph = newFanout(msg.count, live.length);
  for (const c of live) c.next = 0;
  const idleMs = (msg.quiet || 10) * 1000;
  const done = new Promise((resolve) => { ph.resolve = resolve; });
  const cpu0 = process.cpuUsage();
  const disc0 = stats.disconnects;
  fanout = ph;
  ph.tStart = performance.now();
  // Finish on silence: no new delivery (or missing ack) for idleMs.
  let seen = -1, quietSince = ph.tStart;
  const watchdog = setInterval(() => {
    const now = performance.now();
    if (ph.delivered !== seen) { seen = ph.delivered; quietSince = now; return; }
    if (now - quietSince > idleMs) {
      ph.timedOut = true;
      if (ph.ack === null) ph.ack = { missing: true };
      maybeFinishFanout();
    }
  }, 100);
  control.emitAck('bench_fanout', JSON.stringify({ count: msg.count, rate: msg.rate || 0, size: msg.size || 64 }),
    (buf, s, e) => {
      ph.ack = JSON.parse(buf.toString('utf8', s, e))[0];
      ph.tAck = performance.now();
      maybeFinishFanout();
    });
  await done;
  clearInterval(watchdog);
  fanout = null;
  if (ph.tLast === 0) ph.tLast = quietSince;
  // Whatever a client never reached is lost.
  let lost = ph.lost;
  for (const c of live) if (c.next < ph.count) lost += ph.count - c.next;
  const span = (ph.tLast - ph.tStart) / 1000;
  return {
    ev: 'fanout', clients: live.length, count: ph.count, expected: live.length * ph.count,
    delivered: ph.delivered, lost, out_of_order: ph.ooo, unparsed: ph.bad || 0,
    timed_out: !!ph.timedOut, disconnects: stats.disconnects - disc0,
    elapsed_s: span, first_s: ph.tFirst ? (ph.tFirst - ph.tStart) / 1000 : null,
    ack_s: ph.tAck ? (ph.tAck - ph.tStart) / 1000 : null,
    msgs_per_s: span > 0 ? ph.delivered / span : 0, server: ph.ack, cpu: cpuSince(cpu0, ph.tStart),
    // CPU while messages were flowing: the window where saturation would show
    busy: ph.cpuLast ? cpuBetween(ph.cpuFirst, ph.tFirst, ph.cpuLast, ph.tLast) : null,
  };
}

async function cmdEcho(msg) {
  const k = Math.min(msg.clients || 50, clients.length);
  const users = clients.filter((c) => c.connected).slice(0, k);
  const durationMs = (msg.duration || 5) * 1000;
  const depth = msg.depth || 1;
  const payload = JSON.stringify({ i: 0, payload: 'x'.repeat(msg.size || 64) });
  let latencies = new Float64Array(1 << 16);
  let n = 0, mismatched = 0, inflight = 0;
  const cpu0 = process.cpuUsage();
  const disc0 = stats.disconnects;
  const t0 = performance.now();
  const tStop = t0 + durationMs;
  let tEnd = t0;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });

  function send(c) {
    const sent = performance.now();
    inflight++;
    c.emitAck('echo', payload, (buf, s, e) => {
      const now = performance.now();
      inflight--;
      // The ack must carry the payload back: check its length, not its JSON.
      if (e - s !== payload.length + 2) mismatched++;
      if (n === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[n++] = now - sent;
      tEnd = now;
      if (now < tStop) send(c);
      else if (inflight === 0) resolveDone();
    });
  }
  for (const c of users) for (let d = 0; d < depth; d++) send(c);
  const grace = setTimeout(() => resolveDone(), durationMs + 5000);
  await done;
  clearTimeout(grace);
  const lat = latencies.subarray(0, n).sort();
  const pick = (q) => (n ? lat[Math.min(n - 1, Math.floor(q * n))] : null);
  const span = (tEnd - t0) / 1000;
  return {
    ev: 'echo', clients: users.length, depth, round_trips: n, mismatched, unanswered: inflight,
    disconnects: stats.disconnects - disc0, elapsed_s: span, rt_per_s: span > 0 ? n / span : 0,
    p50_ms: pick(0.5), p90_ms: pick(0.9), p99_ms: pick(0.99), max_ms: n ? lat[n - 1] : null,
    cpu: cpuSince(cpu0, t0),
  };
}

function cmdQuit() {
  for (const c of clients) c.close();
  if (control) control.close();
  reply({ ev: 'bye' });
  setTimeout(() => process.exit(0), 200);
}

const COMMANDS = { hello: cmdHello, connect: cmdConnect, fanout: cmdFanout, echo: cmdEcho };

// Commands run one at a time, in order.
let chain = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try { msg = JSON.parse(line); } catch (err) { reply({ ev: 'error', error: 'bad json: ' + line }); return; }
  if (msg.cmd === 'quit') { chain = chain.then(cmdQuit); return; }
  const fn = COMMANDS[msg.cmd];
  if (!fn) { reply({ ev: 'error', error: 'unknown command ' + msg.cmd }); return; }
  chain = chain.then(() => fn(msg)).then(reply, (err) => reply({ ev: 'error', cmd: msg.cmd, error: String(err && err.stack || err) }));
});
process.stdin.on('end', () => { chain.then(cmdQuit); });
