import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, collect, serverMessages, EMULATED, emulatedTransportTap } from '../lib/harness.mjs';

let server;
// Ping every second so several round trips fit in a short test (the pong timeout must be shorter).
before(async () => {
  server = await startServer({
    Switchboard__Client__PingInterval: '00:00:01',
    Switchboard__Client__PongTimeout: '00:00:00.800',
  });
});
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

/** A WebSocket class that reports each server ping (an empty message: `{}` in JSON) to `onPing`. */
function pingWatchingWebSocket(onPing) {
  return class extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        for (const message of serverMessages(event.data)) {
          if (Object.keys(message).length === 0) onPing();
        }
      });
    }
  };
}

test('a client answers the server\'s pings and stays connected over several ping intervals', async () => {
  const pings = { count: 0, waiters: [] };
  const onPing = () => {
    pings.count += 1;
    pings.waiters = pings.waiters.filter((w) => (pings.count >= w.n ? (w.resolve(), false) : true));
  };
  const pingsSeen = (n) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`saw ${pings.count} pings, wanted ${n}`)), 15000);
    pings.waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
  });
  // maxServerPingDelay 3 s: were the server to stop pinging, the client would drop the
  // connection itself ('connecting' with code 2, "no ping") within four seconds.
  const watching = EMULATED
    ? emulatedTransportTap({ onMessage: (text) => { if (text.trim() === '{}') onPing(); } })
    : { websocket: pingWatchingWebSocket(onPing) };
  const client = server.client({ ...watching, maxServerPingDelay: 3000 });
  const connecting = collect(client, 'connecting');
  const disconnected = collect(client, 'disconnected');
  const connected = collect(client, 'connected');
  client.connect();
  await connected.waitFor(1);
  // Four pings span three ping intervals; the server closes a connection whose pong does not
  // come (3012) and treats a pong with no ping as a bad request (3501): either would show here.
  await pingsSeen(4);
  const info = await server.api('info');
  assert.equal(client.state, 'connected');
  assert.equal(connecting.items.length, 1, 'only the initial connect');
  assert.equal(disconnected.items.length, 0);
  assert.equal(connected.items.length, 1);
  assert.ok(info.result.nodes[0].num_clients >= 1);
});
