import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, once, collect, countingTransport, uniqueUser, userToken,
} from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

for (const code of [4501, 3503]) {
  test(`a server API disconnect with terminal code ${code} leaves the client disconnected with that code`, async () => {
    const user = uniqueUser('terminal');
    const ws = countingTransport();
    // Zero reconnect delay: were a reconnect scheduled, its transport would open at the next
    // timer tick, long before the API round trip used as a barrier below completes.
    const client = await server.connect({
      token: userToken(user), ...ws.options, minReconnectDelay: 0, maxReconnectDelay: 0,
    });
    const states = collect(client, 'state');
    const connecting = collect(client, 'connecting');
    const disconnected = once(client, 'disconnected');

    const reply = await server.api('disconnect', { user, disconnect: { code, reason: 'go away' } });
    assert.deepEqual(reply, { result: {} });
    const ctx = await disconnected;
    assert.equal(ctx.code, code);
    assert.equal(ctx.reason, 'go away');

    // Why this proves "no reconnect": the client decides when the close arrives. Had it meant to
    // reconnect, it would have moved to 'connecting' (emitting 'connecting') instead of
    // 'disconnected'; from 'disconnected' only an explicit connect() leaves. Barrier: a server
    // API round trip after the event (several timer ticks), then the client must still be
    // disconnected, have seen no 'connecting', and have opened no transport beyond the first.
    await server.api('info');
    assert.equal(client.state, 'disconnected');
    assert.equal(connecting.items.length, 0);
    assert.deepEqual(states.items.map((s) => s.newState), ['disconnected']);
    assert.equal(ws.opened, 1);
  });
}

for (const code of [3011, 4001]) {
  test(`a server API disconnect with reconnect code ${code} makes the client reconnect as a new connection`, async () => {
    const user = uniqueUser('bounce');
    const client = await server.connect({ token: userToken(user) });
    const firstId = client.connectedCtx.client;
    const connecting = once(client, 'connecting');
    const reconnected = once(client, 'connected');
    const disconnected = collect(client, 'disconnected');

    await server.api('disconnect', { user, disconnect: { code, reason: 'come back' } });
    const ctx = await connecting;
    assert.equal(ctx.code, code);
    assert.equal(ctx.reason, 'come back');
    const again = await reconnected;
    assert.notEqual(again.client, firstId, 'a reconnect is a new connection');
    assert.equal(disconnected.items.length, 0, 'a reconnect code never reports disconnected');
    assert.equal(client.state, 'connected');
  });
}

test('a server API disconnect without a code closes the connection for good', async () => {
  const user = uniqueUser('plain');
  const client = await server.connect({ token: userToken(user) });
  const connecting = collect(client, 'connecting');
  const disconnected = once(client, 'disconnected');
  await server.api('disconnect', { user });
  const ctx = await disconnected;
  assert.ok(ctx.code >= 3500 && ctx.code < 4000, `a terminal code, got ${ctx.code}`);
  await server.api('info'); // barrier, see the terminal-code tests
  assert.equal(client.state, 'disconnected');
  assert.equal(connecting.items.length, 0);
});

test('a server API disconnect of one client of a user leaves the user\'s other connections alone', async () => {
  const user = uniqueUser('twice');
  const first = await server.connect({ token: userToken(user) });
  const second = await server.connect({ token: userToken(user) });
  const firstGone = once(first, 'disconnected');
  const secondEvents = collect(second, 'disconnected');
  await server.api('disconnect', { user, client: first.connectedCtx.client, disconnect: { code: 4502, reason: 'only you' } });
  assert.equal((await firstGone).code, 4502);
  // Barrier: a round trip on the second connection after the first one was closed (no RPC
  // handler exists, so it is answered with 104 — an answer is all this needs).
  assert.equal((await second.rpc('ping', {}).catch((e) => e)).code, 104);
  assert.equal(second.state, 'connected');
  assert.equal(secondEvents.items.length, 0);
});
