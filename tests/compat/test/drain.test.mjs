import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, once } from '../lib/harness.mjs';

// A real process and SIGTERM: the drain a deploy triggers.
test('on SIGTERM every client is sent away with 3001, spread over the drain window, and the process exits within it', async () => {
  const windowMs = 2000;
  const server = await startServer({ Switchboard__Drain__Window: '00:00:02', Switchboard__Drain__Batches: '4' });
  const clients = [];
  const goneAt = [];
  try {
    for (let i = 0; i < 12; i++) {
      // Slow reconnects: the server is going away and this test only watches the goodbye.
      const client = server.client({ minReconnectDelay: 60000, maxReconnectDelay: 60000 });
      const connected = once(client, 'connected');
      client.on('connecting', (ctx) => { if (ctx.code === 3001) goneAt.push(Date.now()); });
      client.connect();
      await connected;
      clients.push(client);
    }
    const codes = clients.map((client) => once(client, 'connecting', 10000).then((ctx) => ctx.code));

    const sigterm = Date.now();
    await server.stop(); // SIGTERM, then waits for the process to exit
    const exitedAfter = Date.now() - sigterm;

    assert.deepEqual(await Promise.all(codes), Array(12).fill(3001));
    assert.ok(exitedAfter < windowMs + 3000, `the process took ${exitedAfter} ms to exit`);
    // Four batches, each at a random moment within its half-second slot: the first goes before
    // 0.5 s, the last after 1.5 s, so the goodbyes span most of the window.
    const spread = Math.max(...goneAt) - Math.min(...goneAt);
    assert.ok(spread >= 700, `all clients were sent away within ${spread} ms`);
  } finally {
    for (const client of clients) client.disconnect();
    await server.stop();
  }
});
