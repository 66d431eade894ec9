import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rejection } from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

test('an RPC with no handler on the server rejects with error 104 (method not found)', async () => {
  const client = await server.connect();
  const error = await rejection(client.rpc('anything', {}));
  assert.equal(error.code, 104);
  // The error is a reply to that call only: the connection carries on.
  assert.equal(client.state, 'connected');
  const again = await rejection(client.rpc('something.else', { x: 1 }));
  assert.equal(again.code, 104);
  assert.equal(client.state, 'connected');
});
