// Minimal Socket.IO 4 server for the Switchboard benchmark (bench/Switchboard.Bench).
//
// - WebSocket transport only (no HTTP long-polling). In-memory adapter (single node), or, when
//   env REDIS_URL is set (e.g. redis://127.0.0.1:6379), the Redis adapter from
//   @socket.io/redis-adapter in its sharded form (createShardedAdapter, Redis >= 7 sharded
//   Pub/Sub: the form the Socket.IO docs recommend for new deployments) over two clients of the
//   `redis` package, connected before the server listens.
// - A client joins a room (= channel) by emitting  "join"  with the room name; the server
//   acknowledges with the event "joined" [room] so the load generator knows the join is done.
// - POST /publish  {"room": "...", "data": <any JSON>}  emits  "pub"  with <data> to the room
//   (io.to(room).emit("pub", data)), answering 200 {"ok":true}.
//
// Port: first argument, else env PORT, else 3000. Host: env HOST, else 127.0.0.1.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createClient } from 'redis';
import { createShardedAdapter } from '@socket.io/redis-adapter';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL;

let adapter;
if (redisUrl) {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) {
    client.on('error', (err) => console.error(`redis: ${err.message}`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);
  adapter = createShardedAdapter(pubClient, subClient);
}

const httpServer = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
        return;
      }
      if (typeof body?.room !== 'string') {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"room missing"}');
        return;
      }
      io.to(body.room).emit('pub', body.data);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  // Let socket.io handle its own path; anything else is 404.
  if (!req.url?.startsWith('/socket.io/')) {
    res.writeHead(404).end();
  }
});

const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  ...(adapter ? { adapter } : {}),
  // Defaults kept otherwise (pingInterval 25 s, pingTimeout 20 s, perMessageDeflate off).
});

io.on('connection', (socket) => {
  socket.on('join', (room) => {
    if (typeof room !== 'string') return;
    socket.join(room);
    socket.emit('joined', room);
  });
});

// Node closes idle keep-alive connections after 5 s by default, racing the publisher's reuse of
// them between steps; Kestrel (Switchboard, SignalR) keeps them 130 s. Align with that.
httpServer.keepAliveTimeout = 130_000;
httpServer.headersTimeout = 131_000;

httpServer.listen(port, host, () => {
  console.log(`socket.io peer listening on http://${host}:${port}` + (redisUrl ? ` (redis adapter: ${redisUrl})` : ''));
});

const stop = () => {
  // The Redis clients go with the process (disconnecting them first would fail the adapter's
  // pending unsubscribes).
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
