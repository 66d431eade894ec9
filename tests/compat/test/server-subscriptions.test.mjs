import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, once, onceWhere, collect, subscribe, publish, uniqueChannel, uniqueUser, userToken,
} from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

test('channels in the connection token become server-side subscriptions that deliver publications', async () => {
  const user = uniqueUser('claims');
  const news = uniqueChannel('demo:news');
  const alerts = uniqueChannel('chat:alerts');
  const client = server.client({ token: userToken(user, { channels: [news, alerts] }) });
  const subscribed = collect(client, 'subscribed');
  const pubs = collect(client, 'publication');
  const connected = once(client, 'connected');
  client.connect();
  await connected;
  await subscribed.waitFor(2);
  assert.deepEqual(subscribed.items.map((s) => s.channel).sort(), [news, alerts].sort());
  const newsCtx = subscribed.items.find((s) => s.channel === news);
  assert.equal(newsCtx.recoverable, true, '`demo` forces recovery');
  assert.equal(newsCtx.wasRecovering, false);
  assert.equal(newsCtx.streamPosition.offset, 0);

  await publish(server, news, { headline: 'one' });
  await publish(server, alerts, { level: 'high' });
  await publish(server, news, { headline: 'two' });
  await pubs.waitFor(3);
  assert.deepEqual(pubs.items.map((p) => [p.channel, p.data, p.offset]), [
    [news, { headline: 'one' }, 1],
    [alerts, { level: 'high' }, 1],
    [news, { headline: 'two' }, 2],
  ]);
  // No client-side subscription objects were involved.
  assert.equal(client.getSubscription(news), null);
});

test('a server-side subscription appears in presence under the connection\'s client id', async () => {
  const user = uniqueUser('claims-presence');
  const channel = uniqueChannel('demo:claims-presence');
  const client = server.client({ token: userToken(user, { channels: [channel] }) });
  const subscribed = once(client, 'subscribed');
  const connected = once(client, 'connected');
  client.connect();
  const { client: clientId } = await connected;
  await subscribed;
  const presence = await server.api('presence', { channel });
  assert.deepEqual(Object.keys(presence.result.presence), [clientId]);
  assert.equal(presence.result.presence[clientId].user, user);
});

test('the server API subscribe gives the user\'s client a server-side subscription, and unsubscribe ends it', async () => {
  const user = uniqueUser('api-sub');
  const channel = uniqueChannel('demo:api-sub');
  const barrier = uniqueChannel('demo:api-sub-barrier');
  const client = await server.connect({ token: userToken(user) });
  const { pubs: barrierPubs } = await subscribe(client, barrier);
  const pubs = collect(client, 'publication');
  const subscribed = once(client, 'subscribed');

  const reply = await server.api('subscribe', { user, channel });
  assert.deepEqual(reply, { result: {} });
  const ctx = await subscribed;
  assert.equal(ctx.channel, channel);
  assert.equal(ctx.recoverable, true);
  assert.equal(ctx.positioned, true);
  assert.ok(ctx.streamPosition.epoch);

  await publish(server, channel, { n: 1 });
  const [pub] = await pubs.waitFor(1);
  assert.equal(pub.channel, channel);
  assert.deepEqual(pub.data, { n: 1 });

  const unsubscribed = once(client, 'unsubscribed');
  assert.deepEqual(await server.api('unsubscribe', { user, channel }), { result: {} });
  assert.equal((await unsubscribed).channel, channel);

  // Nothing more from that channel: a later publication on another channel of the same
  // connection arrives, and the unsubscribed channel's publication made before it did not.
  await publish(server, channel, { n: 2 });
  await publish(server, barrier, { barrier: true });
  await barrierPubs.waitFor(1);
  assert.deepEqual(pubs.items.map((p) => p.data), [{ n: 1 }]);
  assert.equal(client.state, 'connected');
});

test('the server API subscribe reaches every connection of the user', async () => {
  const user = uniqueUser('api-sub-all');
  const channel = uniqueChannel('demo:api-sub-all');
  const first = await server.connect({ token: userToken(user) });
  const second = await server.connect({ token: userToken(user) });
  const other = await server.connect({ token: userToken(uniqueUser('bystander')) });
  const otherSubscribed = collect(other, 'subscribed');
  const subscribedFirst = onceWhere(first, 'subscribed', (c) => c.channel === channel);
  const subscribedSecond = onceWhere(second, 'subscribed', (c) => c.channel === channel);
  await server.api('subscribe', { user, channel });
  await Promise.all([subscribedFirst, subscribedSecond]);
  const stats = await server.api('presence_stats', { channel });
  assert.deepEqual(stats.result, { num_clients: 2, num_users: 1 });
  assert.equal(otherSubscribed.items.length, 0);
});

test('the server API unsubscribe ends a client-side subscription with code 2000', async () => {
  const user = uniqueUser('api-unsub');
  const channel = uniqueChannel('demo:api-unsub');
  const client = await server.connect({ token: userToken(user) });
  const { sub } = await subscribe(client, channel);
  const unsubscribed = once(sub, 'unsubscribed');
  await server.api('unsubscribe', { user, channel });
  const ctx = await unsubscribed;
  assert.equal(ctx.code, 2000);
  assert.equal(sub.state, 'unsubscribed', 'codes below 2500 do not resubscribe');
});

test('the `subs` claim of the connection token subscribes the client and hands it the subscription data', async () => {
  const user = uniqueUser('subs-claim');
  const channel = uniqueChannel('demo:subs-claim');
  const client = server.client({ token: userToken(user, { subs: { [channel]: { data: { welcome: 'aboard' } } } }) });
  const subscribed = once(client, 'subscribed');
  const connected = once(client, 'connected');
  client.connect();
  await connected;
  const ctx = await subscribed;
  assert.equal(ctx.channel, channel);
  assert.deepEqual(ctx.data, { welcome: 'aboard' });
});

test('the server API subscribe hands the client the subscription data', async () => {
  const user = uniqueUser('api-sub-data');
  const channel = uniqueChannel('demo:api-sub-data');
  const client = await server.connect({ token: userToken(user) });
  const subscribed = once(client, 'subscribed');
  await server.api('subscribe', { user, channel, data: { reason: 'invited' } });
  const ctx = await subscribed;
  assert.equal(ctx.channel, channel);
  assert.deepEqual(ctx.data, { reason: 'invited' });
});
