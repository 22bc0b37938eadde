// The click benchmark's socket.io counter (bench/src/socketio.rs starts two of these as two
// replicas on the benchmark's own Redis): what a counter shared live looks like when written
// the idiomatic socket.io way, so that the app is measured beside it in the same run.
//
// A counter is a room. A socket joins the room of the counter in its handshake's query and is
// sent the current value; an `increment` event is an atomic INCRBY in Redis, and the new value
// is emitted to the room through the Redis adapter, which reaches the room's sockets on every
// replica. The page (sio.html, sio.js and the socket.io client from the `socket.io-client`
// package) is served from here, so its socket is same-origin like the app's.
//
// Usage: node server.js REDIS_URL. Listens on a free port of 127.0.0.1 and prints
// `listening on http://127.0.0.1:PORT` as its first line, as the backend does.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { Server } = require('socket.io');

const redisUrl = process.argv[2];
if (!redisUrl) {
  console.error('usage: node server.js REDIS_URL');
  process.exit(2);
}

// Everything the page needs, read once: the server never touches the disk while measured.
const files = {
  '/sio.html': ['text/html; charset=utf-8', fs.readFileSync(path.join(__dirname, 'sio.html'))],
  '/sio.js': ['text/javascript; charset=utf-8', fs.readFileSync(path.join(__dirname, 'sio.js'))],
  '/socket.io.min.js': [
    'text/javascript; charset=utf-8',
    // The package's `exports` do not list its browser bundle, so it is read by its path.
    fs.readFileSync(path.join(__dirname, 'node_modules/socket.io-client/dist/socket.io.min.js')),
  ],
};

/** The Redis key of counter `name`: apart from the app's keys in the same Redis. */
const key = (name) => `bench-socketio:counter:${name}`;

async function main() {
  // One connection for the counters' values, two for the adapter (a subscriber connection
  // can do nothing else).
  const store = createClient({ url: redisUrl });
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const client of [store, pub, sub]) {
    client.on('error', (error) => console.error('redis:', error.message));
  }
  await Promise.all([store.connect(), pub.connect(), sub.connect()]);

  const server = http.createServer((request, response) => {
    const file = files[new URL(request.url, 'http://localhost').pathname];
    if (file === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' });
    response.end(file[1]);
  });
  // WebSocket only, as the page asks: no long-polling upgrade in a fair comparison.
  const io = new Server(server, {
    serveClient: false,
    transports: ['websocket'],
    adapter: createAdapter(pub, sub),
  });

  io.on('connection', async (socket) => {
    const counter = String(socket.handshake.query.counter ?? '');
    if (counter === '') {
      socket.disconnect(true);
      return;
    }
    // Joined before the value is read, so that no change falls between the two.
    socket.join(counter);
    socket.on('increment', async () => {
      try {
        const value = await store.incrBy(key(counter), 1);
        io.to(counter).emit('state', { value });
      } catch (error) {
        console.error('increment:', error.message);
      }
    });
    try {
      const value = Number((await store.get(key(counter))) ?? 0);
      socket.emit('state', { value });
    } catch (error) {
      console.error('first state:', error.message);
    }
  });

  server.listen(0, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
