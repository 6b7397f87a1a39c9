'use strict';
/*
 * The optional Node contender: a socket.io 4.x server with the same handlers
 * as benchmarks/e2e_app.py, so the load generator cannot tell them apart.
 *
 *   node server.js --port PORT [--host 127.0.0.1]
 *
 * Handlers: every client that does not pass role=ctl joins room "bench";
 * "echo" acks its argument back; "bench_fanout" emits {"i", "payload"} events
 * to the room (back to back, or paced at `rate` per second) and acks when the
 * last one is handed to socket.io; "bench_info" acks a description.
 */

const fs = require('fs');
const http = require('http');
const path = require('path');
const { performance } = require('perf_hooks');
const { Server } = require('socket.io');

// socket.io's "exports" hide its package.json from require(); read the file.
const SOCKETIO_VERSION = JSON.parse(fs.readFileSync(
  path.join(path.dirname(require.resolve('socket.io')), '..', 'package.json'), 'utf8')).version;

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 5000 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--host') opts.host = argv[++i];
    else if (argv[i] === '--port') opts.port = parseInt(argv[++i], 10);
    else throw new Error('unknown argument ' + argv[i]);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const httpServer = http.createServer((req, res) => {
  // plain HTTP route used by the harness to see that the server is up
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('ok');
});
const io = new Server(httpServer, { serveClient: false });

function fanout(opts, done) {
  const count = opts.count | 0;
  const rate = +opts.rate || 0;
  const payload = 'x'.repeat(opts.size || 64);
  const room = io.to('bench');
  const t0 = performance.now();
  if (!rate) {
    for (let i = 0; i < count; i++) room.emit('m', { i, payload });
    done({ emit_s: (performance.now() - t0) / 1000 });
    return;
  }
  // Paced: emit i is due at t0 + i/rate; when late, catch up without sleeping.
  let i = 0;
  const step = () => {
    while (i < count && performance.now() >= t0 + (i * 1000) / rate) {
      room.emit('m', { i, payload });
      i++;
      // yield after each emit so the sockets get written in between
      if (i < count) { setImmediate(step); return; }
    }
    if (i >= count) { done({ emit_s: (performance.now() - t0) / 1000 }); return; }
    setTimeout(step, Math.max(0, t0 + (i * 1000) / rate - performance.now()));
  };
  step();
}

io.on('connection', (socket) => {
  if (socket.handshake.query.role !== 'ctl') socket.join('bench');
  socket.on('echo', (data, ack) => { if (typeof ack === 'function') ack(data); });
  socket.on('bench_fanout', (o, ack) => fanout(o, ack));
  socket.on('bench_info', (ack) => ack({
    module: 'socket.io', version: SOCKETIO_VERSION,
    async_mode: 'node', implementation: 'node ' + process.version, pid: process.pid,
  }));
});

httpServer.listen(opts.port, opts.host);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
