import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, token, now, once, TRANSPORT_NAME } from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

test('connects anonymously when the configuration allows it', async () => {
  const client = server.client();
  const connected = once(client, 'connected');
  client.connect();
  const ctx = await connected;
  assert.match(ctx.client, /^[0-9a-f-]{36}$/);
  assert.equal(ctx.transport, TRANSPORT_NAME);
  client.disconnect();
});

test('connects with a connection token and is known by its user', async () => {
  const client = server.client({ token: token({ sub: 'alice', exp: now() + 3600, info: { name: 'Alice' } }) });
  const connected = once(client, 'connected');
  client.connect();
  const ctx = await connected;
  const presence = await server.api('info');
  assert.equal(presence.result.nodes[0].num_users, 1);
  assert.ok(ctx.client);
  client.disconnect();
});
