// A burst of new channels on the Redis engine: N clients (default 2,000) subscribe at once, each
// to a channel of its own, on one node; prints how long until all are subscribed and what Redis
// saw (SUBSCRIBE calls, commands, socket reads). Needs a running redis-server on PORT and the
// server built in Release (and `npm ci` in tests/compat for `ws`):
//   redis-server --port 6395 --save "" --daemonize yes
//   taskset -c 1 node bench/subscribe-burst.mjs 6395 5000
import WebSocket from '../tests/compat/node_modules/ws/index.js';
import { startServerProcess } from '../tests/node/server-process.mjs';
import { execSync } from 'node:child_process';
const port = Number(process.argv[2]);
const N = Number(process.argv[3] ?? 2000);
const server = await startServerProcess({
  Switchboard__Engine: 'redis', Switchboard__Redis__Addresses__0: `127.0.0.1:${port}`,
  Switchboard__Client__AllowAnonymousConnectWithoutToken: 'true', Switchboard__Identity__Enabled: 'false',
  Switchboard__Namespaces__bb__AllowSubscribeForClient: 'true', Switchboard__Namespaces__bb__AllowSubscribeForAnonymous: 'true',
  Switchboard__Client__MaxConnections: '100000',
}, 'k');
const sockets = [];
try {
  for (let i = 0; i < N; i++) {
    const ws = new WebSocket(server.wsUrl);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    ws.send('{"id":1,"connect":{}}');
    await new Promise((r) => ws.once('message', r));
    sockets.push(ws);
  }
  execSync(`redis-cli -p ${port} CONFIG RESETSTAT`);
  const started = performance.now();
  await Promise.all(sockets.map((ws, i) => new Promise((r) => {
    ws.on('message', (m) => { if (String(m).includes('"id":2')) r(); });
    ws.send(`{"id":2,"subscribe":{"channel":"bb:ch-${i}"}}`);
  })));
  const ms = performance.now() - started;
  const stats = execSync(`redis-cli -p ${port} INFO commandstats`).toString().split('\n').filter((l) => /subscribe|evalsha|eval:/.test(l)).join(' ');
  const reads = execSync(`redis-cli -p ${port} INFO stats`).toString().split('\n').filter((l) => /total_reads_processed|total_commands_processed/.test(l)).join(' ');
  console.log(`${N} channel subscribes in ${ms.toFixed(0)} ms (${(N / ms * 1000).toFixed(0)}/s); ${stats.trim()}; ${reads.trim()}`);
} finally {
  for (const ws of sockets) ws.terminate();
  await server.stop();
}
