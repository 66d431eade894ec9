import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, once, collect, subscribe, publish, deferred, uniqueChannel, uniqueUser, userToken, token, now,
  transportRecorder, wireOffsets,
} from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

/**
 * Client options that hold every reconnect until the test opens the gate. The client calls
 * `getData` before each connection attempt and opens no transport until it resolves: the first
 * connect passes; later attempts wait for `gate`. While the gate is closed the client is
 * provably away from the server, whatever the timing, so publications made then are "missed".
 * (Also sets wide reconnect delays, as a second line of defence.)
 */
function gatedReconnect() {
  const gate = deferred();
  const reconnectAttempt = deferred();
  let calls = 0;
  return {
    gate,
    reconnectAttempt: reconnectAttempt.promise,
    options: {
      minReconnectDelay: 1000,
      maxReconnectDelay: 1500,
      getData: async () => {
        calls += 1;
        if (calls === 1) return null;
        reconnectAttempt.resolve();
        await gate.promise;
        return null;
      },
    },
  };
}

const offsets = (pubs) => pubs.map((p) => p.offset);

test('after a forced reconnect the subscription recovers every missed publication exactly once, in order', async () => {
  const channel = uniqueChannel('demo:recover');
  const user = uniqueUser('recover');
  const { gate, reconnectAttempt, options } = gatedReconnect();
  const client = await server.connect({ token: userToken(user), ...options });
  const firstClientId = client.connectedCtx.client;
  const { sub, ctx: first, pubs } = await subscribe(client, channel);
  assert.equal(first.wasRecovering, false);
  const subscribedEvents = collect(sub, 'subscribed');

  for (let n = 1; n <= 3; n++) await publish(server, channel, { n });
  await pubs.waitFor(3);

  const connecting = once(client, 'connecting');
  await server.api('disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
  assert.equal((await connecting).code, 3011);
  assert.equal(sub.state, 'subscribing');

  // The client is away (its reconnect waits on the gate): these are missed.
  for (let n = 4; n <= 8; n++) {
    const result = await publish(server, channel, { n });
    assert.equal(result.offset, n);
  }
  await reconnectAttempt;
  const reconnected = once(client, 'connected');
  gate.resolve();
  assert.notEqual((await reconnected).client, firstClientId);

  await subscribedEvents.waitFor(1);
  const [resubscribed] = subscribedEvents.items;
  assert.equal(resubscribed.wasRecovering, true);
  assert.equal(resubscribed.recovered, true);
  assert.equal(resubscribed.hasRecoveredPublications, true, 'the missed publications came with the subscribe reply');
  assert.deepEqual(resubscribed.streamPosition, { offset: 8, epoch: first.streamPosition.epoch });

  await pubs.waitFor(8);
  // A live publication after the recovery: any duplicate of the recovered ones would have been
  // delivered on this connection before it.
  await publish(server, channel, { n: 9 });
  await pubs.waitFor(9);
  assert.deepEqual(offsets(pubs.items), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(pubs.items.map((p) => p.data.n), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(subscribedEvents.items.length, 1);
});

test('a subscription that missed nothing during a reconnect recovers with no publications', async () => {
  const channel = uniqueChannel('demo:recover-nothing');
  const user = uniqueUser('recover-nothing');
  const client = await server.connect({ token: userToken(user) });
  const { sub, ctx: first, pubs } = await subscribe(client, channel);
  await publish(server, channel, { n: 1 });
  await pubs.waitFor(1);

  const resubscribed = once(sub, 'subscribed');
  await server.api('disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
  const ctx = await resubscribed;
  assert.equal(ctx.wasRecovering, true);
  assert.equal(ctx.recovered, true);
  assert.equal(ctx.hasRecoveredPublications, false);
  assert.deepEqual(ctx.streamPosition, { offset: 1, epoch: first.streamPosition.epoch });
  await publish(server, channel, { n: 2 });
  await pubs.waitFor(2);
  assert.deepEqual(offsets(pubs.items), [1, 2]);
});

test('a server-side subscription from the token recovers missed publications after a forced reconnect', async () => {
  const channel = uniqueChannel('demo:server-recover');
  const user = uniqueUser('server-recover');
  const { gate, reconnectAttempt, options } = gatedReconnect();
  const client = server.client({ token: token({ sub: user, exp: now() + 3600, channels: [channel] }), ...options });
  const subscribed = collect(client, 'subscribed');
  const pubs = collect(client, 'publication');
  const connected = once(client, 'connected');
  client.connect();
  await connected;
  await subscribed.waitFor(1);
  const first = subscribed.items[0];
  assert.equal(first.channel, channel);
  assert.equal(first.recoverable, true);

  for (let n = 1; n <= 2; n++) await publish(server, channel, { n });
  await pubs.waitFor(2);

  const connecting = once(client, 'connecting');
  await server.api('disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
  await connecting;
  for (let n = 3; n <= 5; n++) await publish(server, channel, { n });
  await reconnectAttempt;
  gate.resolve();

  await subscribed.waitFor(2);
  const again = subscribed.items[1];
  assert.equal(again.channel, channel);
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, true);
  assert.equal(again.hasRecoveredPublications, true);
  await pubs.waitFor(5);
  await publish(server, channel, { n: 6 });
  await pubs.waitFor(6);
  assert.deepEqual(pubs.items.map((p) => p.offset), [1, 2, 3, 4, 5, 6]);
  assert.ok(pubs.items.every((p) => p.channel === channel));
});

test('missing more publications than the recovery limit resubscribes with recovered false and replays nothing', async () => {
  const limited = await startServer({ Switchboard__Client__RecoveryMaxPublicationLimit: '3' });
  try {
    const channel = uniqueChannel('demo:recover-too-many');
    const user = uniqueUser('too-many');
    const { gate, reconnectAttempt, options } = gatedReconnect();
    const client = await limited.connect({ token: userToken(user), ...options });
    const { sub, pubs } = await subscribe(client, channel);
    await publish(limited, channel, { n: 1 });
    await pubs.waitFor(1);

    const connecting = once(client, 'connecting');
    await limited.api('disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
    await connecting;
    for (let n = 2; n <= 5; n++) await publish(limited, channel, { n }); // 4 missed > limit 3
    await reconnectAttempt;
    const resubscribed = once(sub, 'subscribed');
    gate.resolve();
    const ctx = await resubscribed;
    assert.equal(ctx.wasRecovering, true);
    assert.equal(ctx.recovered, false);
    assert.equal(ctx.hasRecoveredPublications, false, 'never a partial recovery');
    assert.equal(ctx.streamPosition.offset, 5, 'the client learns the current top');

    await publish(limited, channel, { n: 6 });
    await pubs.waitFor(2);
    assert.deepEqual(offsets(pubs.items), [1, 6]);
  } finally {
    limited.disconnectAll();
    await limited.stop();
  }
});

test('publications made before, during and after a recovery all arrive exactly once, in order', async () => {
  const channel = uniqueChannel('chat:recover-live');
  const user = uniqueUser('recover-live');
  const wire = transportRecorder();
  // Reconnect at once, so the resubscribe and its recovery overlap the publishing below.
  const client = await server.connect({
    token: userToken(user), minReconnectDelay: 0, maxReconnectDelay: 0, ...wire.options,
  });
  const { sub, pubs } = await subscribe(client, channel);
  const resubscribed = once(sub, 'subscribed');

  let published = 0;
  let stop = false;
  const publisher = (async () => {
    while (!stop) {
      published += 1;
      await publish(server, channel, { n: published });
    }
  })();
  await pubs.waitFor(20);
  await server.api('disconnect', { user, disconnect: { code: 3011, reason: 'force reconnect' } });
  const ctx = await resubscribed;
  // Keep publishing until 20 more publications arrived live after the recovery.
  await pubs.waitFor(pubs.items.length + 20);
  stop = true;
  await publisher;
  await pubs.waitFor(published);

  assert.equal(ctx.wasRecovering, true);
  assert.equal(ctx.recovered, true);
  const expected = Array.from({ length: published }, (_, i) => i + 1);
  // What the server sent, in wire order: the subscribe reply's recovered publications merged
  // with the live ones, each exactly once, in offset order.
  assert.equal(wire.connections, 2);
  assert.deepEqual(wireOffsets(wire, channel), expected);
  // What the application saw: each publication exactly once. (Not checked in emission order:
  // centrifuge 5.7.4 may emit a live publication that arrived in the frame right after the
  // subscribe reply before the publications inside that reply — its dispatch of one frame does
  // not wait for the previous frame's reply handling — which is the client's doing, not the
  // server's.)
  assert.equal(pubs.items.length, published);
  assert.deepEqual(pubs.items.map((p) => p.offset).sort((a, b) => a - b), expected);
  assert.deepEqual(pubs.items.map((p) => p.data.n).sort((a, b) => a - b), expected);
});

// The two tests below restart the shared server: keep them last in the file.

test('a server shutdown closes the connection with 3001 (shutdown) and the client reconnects when the server is back', async () => {
  const client = await server.connect();
  const connecting = once(client, 'connecting', 30000);
  const reconnected = once(client, 'connected', 30000);
  await server.restart();
  const ctx = await connecting;
  await reconnected;
  assert.equal(ctx.code, 3001, `the client was told why: got ${ctx.code} '${ctx.reason}'`);
  assert.equal(ctx.reason, 'shutdown');
});

// With the memory engine a restart loses the streams; with the Redis engine they live on in Redis.
const redisEngine = process.env.Switchboard__Engine === 'redis';

test(redisEngine
  ? 'after a node restart the subscription recovers what was published meanwhile from the stream kept in Redis, same epoch'
  : 'after a server restart the subscription resubscribes in a new epoch with recovered false and nothing replayed', async () => {
  const channel = uniqueChannel('demo:epoch');
  const client = await server.connect();
  const { sub, ctx: first, pubs } = await subscribe(client, channel);
  for (let n = 1; n <= 3; n++) await publish(server, channel, { n });
  await pubs.waitFor(3);

  const subscribedEvents = collect(sub, 'subscribed');
  // Long timeouts: how fast the old process goes is the shutdown test's business, not this one's.
  const connecting = once(client, 'connecting', 30000);
  const reconnected = once(client, 'connected', 30000);
  if (redisEngine) {
    // Another node on the same Redis takes a publication while this one is down.
    const other = await startServer();
    try {
      await server.stop();
      await connecting;
      await publish(other, channel, { n: 'while away' });
      await server.start();
    } finally {
      await other.stop();
    }
  } else {
    await server.restart();
    await connecting;
  }
  await reconnected; // the client found the server again on the same port by itself
  await subscribedEvents.waitFor(1);
  const [ctx] = subscribedEvents.items;
  assert.equal(ctx.wasRecovering, true);
  if (redisEngine) {
    assert.equal(ctx.recovered, true);
    assert.equal(ctx.streamPosition.epoch, first.streamPosition.epoch, 'the stream in Redis keeps its epoch');
    assert.equal(ctx.streamPosition.offset, 4);
    await pubs.waitFor(4);
    assert.deepEqual(pubs.items.map((p) => p.data.n), [1, 2, 3, 'while away']);
    assert.deepEqual(pubs.items.map((p) => p.offset), [1, 2, 3, 4]);
    return;
  }
  assert.equal(ctx.recovered, false);
  assert.equal(ctx.hasRecoveredPublications, false);
  assert.notEqual(ctx.streamPosition.epoch, first.streamPosition.epoch, 'a lost stream has a new epoch');
  assert.equal(ctx.streamPosition.offset, 0);

  const result = await publish(server, channel, { n: 'after restart' });
  assert.equal(result.offset, 1);
  assert.equal(result.epoch, ctx.streamPosition.epoch);
  await pubs.waitFor(4);
  assert.deepEqual(pubs.items.map((p) => p.data.n), [1, 2, 3, 'after restart']);
  assert.equal(pubs.items[3].offset, 1);
});
