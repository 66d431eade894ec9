import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, onceWhere, subscribe, uniqueChannel, uniqueUser, userToken, rejection,
} from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

/** Two users subscribed to one `chat` channel; alice watches joins and leaves. */
async function twoUsers(prefix) {
  const channel = uniqueChannel(`chat:${prefix}`);
  const aliceUser = uniqueUser('alice');
  const bobUser = uniqueUser('bob');
  const alice = await server.connect({ token: userToken(aliceUser, { info: { name: 'Alice' } }) });
  const bob = await server.connect({ token: userToken(bobUser, { info: { name: 'Bob' } }) });
  const { sub: aliceSub } = await subscribe(alice, channel, { joinLeave: true });
  const bobJoined = onceWhere(aliceSub, 'join', (ctx) => ctx.info.user === bobUser);
  const { sub: bobSub } = await subscribe(bob, channel);
  await bobJoined;
  return { channel, aliceUser, bobUser, alice, bob, aliceSub, bobSub };
}

test('a subscriber reads the presence and presence stats of a channel with two users', async () => {
  const { channel, aliceUser, bobUser, alice, bob, aliceSub, bobSub } = await twoUsers('presence');

  const { clients } = await aliceSub.presence();
  assert.deepEqual(Object.keys(clients).sort(), [alice.connectedCtx.client, bob.connectedCtx.client].sort());
  assert.equal(clients[alice.connectedCtx.client].user, aliceUser);
  assert.equal(clients[alice.connectedCtx.client].client, alice.connectedCtx.client);
  assert.deepEqual(clients[alice.connectedCtx.client].connInfo, { name: 'Alice' });
  assert.equal(clients[bob.connectedCtx.client].user, bobUser);
  assert.deepEqual(clients[bob.connectedCtx.client].connInfo, { name: 'Bob' });

  assert.deepEqual(await bobSub.presenceStats(), { numClients: 2, numUsers: 2 });

  // A second connection of alice: one more client, still two users.
  const aliceAgain = await server.connect({ token: userToken(aliceUser) });
  const joined = onceWhere(aliceSub, 'join', (ctx) => ctx.info.client === aliceAgain.connectedCtx.client);
  await subscribe(aliceAgain, channel);
  await joined;
  assert.deepEqual(await aliceSub.presenceStats(), { numClients: 3, numUsers: 2 });
  const after = await bobSub.presence();
  assert.equal(Object.keys(after.clients).length, 3);
  assert.equal(after.clients[aliceAgain.connectedCtx.client].user, aliceUser);
});

test('the server API reports the same presence and presence stats', async () => {
  const { channel, aliceUser, bobUser, alice, bob } = await twoUsers('api-presence');

  const presence = await server.api('presence', { channel });
  assert.equal(presence.error, undefined);
  const entries = presence.result.presence;
  assert.deepEqual(Object.keys(entries).sort(), [alice.connectedCtx.client, bob.connectedCtx.client].sort());
  assert.equal(entries[alice.connectedCtx.client].user, aliceUser);
  assert.equal(entries[alice.connectedCtx.client].client, alice.connectedCtx.client);
  assert.deepEqual(entries[alice.connectedCtx.client].conn_info, { name: 'Alice' });
  assert.equal(entries[bob.connectedCtx.client].user, bobUser);

  const stats = await server.api('presence_stats', { channel });
  assert.deepEqual(stats.result, { num_clients: 2, num_users: 2 });
});

test('a client that leaves disappears from presence', async () => {
  const { channel, aliceUser, bobUser, alice, bob, aliceSub } = await twoUsers('presence-leave');
  const bobLeft = onceWhere(aliceSub, 'leave', (ctx) => ctx.info.user === bobUser);
  bob.disconnect();
  await bobLeft;

  const { clients } = await aliceSub.presence();
  assert.deepEqual(Object.keys(clients), [alice.connectedCtx.client]);
  assert.equal(clients[alice.connectedCtx.client].user, aliceUser);
  assert.deepEqual(await aliceSub.presenceStats(), { numClients: 1, numUsers: 1 });
  const stats = await server.api('presence_stats', { channel });
  assert.deepEqual(stats.result, { num_clients: 1, num_users: 1 });
});

test('a client that is not subscribed may not read presence of a `chat` channel (103)', async () => {
  const { channel } = await twoUsers('presence-outsider');
  const outsider = await server.connect({ token: userToken(uniqueUser('outsider')) });
  assert.equal((await rejection(outsider.presence(channel))).code, 103);
  assert.equal((await rejection(outsider.presenceStats(channel))).code, 103);
});

test('presence in a namespace without presence is not available (108), from the client and the API', async () => {
  // `secret` keeps history but no presence; the $-channel needs a token to subscribe, but the
  // presence call is refused before any permission check matters.
  const channel = uniqueChannel('secret:nopresence');
  const client = await server.connect({ token: userToken(uniqueUser('carol')) });
  assert.equal((await rejection(client.presence(channel))).code, 108);
  const reply = await server.api('presence', { channel });
  assert.equal(reply.error.code, 108);
  const stats = await server.api('presence_stats', { channel });
  assert.equal(stats.error.code, 108);
});
