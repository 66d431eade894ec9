import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, once, onceWhere, collect, subscribe, publish, uniqueChannel, uniqueUser, userToken,
} from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

test('a subscriber receives 50 server API publications in order, with increasing offsets and their data', async () => {
  const channel = uniqueChannel('demo:order');
  const client = await server.connect();
  const { ctx, pubs } = await subscribe(client, channel);
  // `demo` forces recovery: the subscription is positioned at the top of a new stream.
  assert.equal(ctx.channel, channel);
  assert.equal(ctx.recoverable, true);
  assert.equal(ctx.positioned, true);
  assert.equal(ctx.wasRecovering, false);
  assert.equal(ctx.streamPosition.offset, 0);
  assert.ok(ctx.streamPosition.epoch, 'a stream has an epoch');

  const published = [];
  for (let i = 1; i <= 50; i++) {
    published.push(await publish(server, channel, { n: i, text: `message ${i}` }));
  }
  assert.deepEqual(published.map((p) => p.offset), Array.from({ length: 50 }, (_, i) => i + 1));
  assert.ok(published.every((p) => p.epoch === ctx.streamPosition.epoch), 'publish reports the subscribed epoch');

  const received = await pubs.waitFor(50);
  assert.equal(received.length, 50);
  received.forEach((pub, i) => {
    assert.equal(pub.channel, channel);
    assert.deepEqual(pub.data, { n: i + 1, text: `message ${i + 1}` });
    assert.equal(pub.offset, i + 1);
    assert.equal(pub.info, undefined, 'a server API publication has no publisher info');
  });
});

test('a client publication reaches another subscriber with the publisher\'s client info', async () => {
  const channel = uniqueChannel('chat:pub');
  const alice = uniqueUser('alice');
  const bob = uniqueUser('bob');
  const publisher = await server.connect({ token: userToken(alice, { info: { name: 'Alice' } }) });
  const reader = await server.connect({ token: userToken(bob) });
  const { sub: publisherSub, pubs: publisherPubs } = await subscribe(publisher, channel);
  const { pubs: readerPubs } = await subscribe(reader, channel);

  const result = await publisherSub.publish({ text: 'hello from alice' });
  assert.deepEqual(result, {});

  const [pub] = await readerPubs.waitFor(1);
  assert.deepEqual(pub.data, { text: 'hello from alice' });
  assert.equal(pub.info.user, alice);
  assert.equal(pub.info.client, publisher.connectedCtx.client);
  assert.deepEqual(pub.info.connInfo, { name: 'Alice' });
  assert.equal(pub.offset, 1, '`chat` keeps history, so the publication has an offset');
  // The publisher, subscribed too, receives its own publication.
  const [own] = await publisherPubs.waitFor(1);
  assert.deepEqual(own.data, { text: 'hello from alice' });
  assert.equal(own.info.client, publisher.connectedCtx.client);
});

test('a subscriber that asked for join/leave sees another client join and then leave by unsubscribing', async () => {
  const channel = uniqueChannel('chat:joinleave');
  const watcherUser = uniqueUser('watcher');
  const visitorUser = uniqueUser('visitor');
  const watcher = await server.connect({ token: userToken(watcherUser) });
  const watcherSub = watcher.newSubscription(channel, { joinLeave: true });
  const joins = collect(watcherSub, 'join');
  const leaves = collect(watcherSub, 'leave');
  // Like Centrifugo, the server broadcasts a subscriber's join to the channel, itself included.
  const ownJoin = onceWhere(watcherSub, 'join', (ctx) => ctx.info.user === watcherUser);
  watcherSub.subscribe();
  await ownJoin;

  const visitor = await server.connect({ token: userToken(visitorUser, { info: { role: 'guest' } }) });
  const visitorJoined = onceWhere(watcherSub, 'join', (ctx) => ctx.info.user === visitorUser);
  const { sub: visitorSub } = await subscribe(visitor, channel);
  const join = await visitorJoined;
  assert.equal(join.channel, channel);
  assert.equal(join.info.client, visitor.connectedCtx.client);
  assert.deepEqual(join.info.connInfo, { role: 'guest' });

  const unsubscribed = once(visitorSub, 'unsubscribed');
  visitorSub.unsubscribe();
  await unsubscribed;
  const [leave] = await leaves.waitFor(1);
  assert.equal(leave.channel, channel);
  assert.equal(leave.info.user, visitorUser);
  assert.equal(leave.info.client, visitor.connectedCtx.client);
  assert.deepEqual(joins.items.map((j) => j.info.user), [watcherUser, visitorUser], 'one join each, no repeats');
});

test('a subscriber that asked for join/leave sees a leave when another client disconnects', async () => {
  const channel = uniqueChannel('chat:joinleave-dc');
  const watcher = await server.connect({ token: userToken(uniqueUser('watcher')) });
  const { sub: watcherSub } = await subscribe(watcher, channel, { joinLeave: true });
  const visitorUser = uniqueUser('visitor');
  const visitor = await server.connect({ token: userToken(visitorUser) });
  const joined = onceWhere(watcherSub, 'join', (ctx) => ctx.info.user === visitorUser);
  await subscribe(visitor, channel);
  await joined;

  const left = onceWhere(watcherSub, 'leave', (ctx) => ctx.info.user === visitorUser);
  const visitorClientId = visitor.connectedCtx.client;
  visitor.disconnect();
  const leave = await left;
  assert.equal(leave.info.client, visitorClientId);
});

test('a subscriber that did not ask for join/leave receives no join messages', async () => {
  const channel = uniqueChannel('chat:nojoin');
  const quiet = await server.connect({ token: userToken(uniqueUser('quiet')) });
  const { sub: quietSub, pubs: quietPubs } = await subscribe(quiet, channel);
  const quietJoins = collect(quietSub, 'join');
  const watcher = await server.connect({ token: userToken(uniqueUser('watcher')) });
  const { sub: watcherSub } = await subscribe(watcher, channel, { joinLeave: true });

  const visitorUser = uniqueUser('visitor');
  const visitor = await server.connect({ token: userToken(visitorUser) });
  const joined = onceWhere(watcherSub, 'join', (ctx) => ctx.info.user === visitorUser);
  await subscribe(visitor, channel);
  await joined;
  // Ordering barrier: the visitor's join went out to the channel before this publication
  // (the watcher already received it), so had the quiet subscriber been sent joins, they would
  // have reached it before the publication it now awaits.
  await publish(server, channel, { barrier: true });
  await quietPubs.waitFor(1);
  assert.equal(quietJoins.items.length, 0);
});

test('subscribing in an undefined namespace fails with error 102 (unknown channel)', async () => {
  const client = await server.connect();
  const sub = client.newSubscription(uniqueChannel('nosuchns:room'));
  const unsubscribed = once(sub, 'unsubscribed');
  sub.subscribe();
  const ctx = await unsubscribed;
  assert.equal(ctx.code, 102);
  assert.equal(sub.state, 'unsubscribed');
  assert.equal(client.state, 'connected', 'a subscribe error does not cost the connection');
});

test('an anonymous client subscribing in `chat` (authenticated users only) fails with error 103', async () => {
  const client = await server.connect();
  const sub = client.newSubscription(uniqueChannel('chat:anon'));
  const unsubscribed = once(sub, 'unsubscribed');
  sub.subscribe();
  const ctx = await unsubscribed;
  assert.equal(ctx.code, 103);
  assert.equal(sub.state, 'unsubscribed');
  assert.equal(client.state, 'connected');
});

test('an anonymous client may not publish in `chat` even through the client API (103)', async () => {
  const client = await server.connect();
  const error = await client.publish(uniqueChannel('chat:anon-pub'), { x: 1 }).then(
    () => assert.fail('publish should be refused'),
    (e) => e,
  );
  assert.equal(error.code, 103);
});

/** Waits until the server counts no subscriber in `channel` (presence_stats through the API). */
async function serverForgot(channel, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await server.api('presence_stats', { channel });
    if (stats.error) throw new Error(`presence_stats failed: ${JSON.stringify(stats.error)}`);
    if ((stats.result.num_clients ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error(`the server still counts subscribers in ${channel}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a client that unsubscribes receives no further publications of that channel', async () => {
  const channel = uniqueChannel('demo:unsub');
  const barrierChannel = uniqueChannel('demo:unsub-barrier');
  const client = await server.connect();
  const { sub, pubs } = await subscribe(client, channel);
  const { pubs: barrierPubs } = await subscribe(client, barrierChannel);
  await publish(server, channel, { n: 1 });
  await pubs.waitFor(1);

  const unsubscribed = once(sub, 'unsubscribed');
  sub.unsubscribe();
  await unsubscribed;
  // The client removes its subscription locally at once; make sure the server processed the
  // unsubscribe too. (A reply to a later command would not prove it on the emulated transports:
  // each command is its own POST /emulation, and two requests may overtake each other.)
  await serverForgot(channel);
  await publish(server, channel, { n: 2 });
  // Barrier: a publication on another channel of the same connection, published afterwards.
  await publish(server, barrierChannel, { barrier: true });
  await barrierPubs.waitFor(1);
  assert.deepEqual(pubs.items.map((p) => p.data), [{ n: 1 }]);
  const stats = await server.api('presence_stats', { channel });
  assert.equal(stats.result.num_clients ?? 0, 0, 'the server forgot the subscriber');
});

test('a client that unsubscribes and subscribes again receives new publications exactly once', async () => {
  const channel = uniqueChannel('demo:resub');
  const client = await server.connect();
  const { sub, pubs } = await subscribe(client, channel);
  await publish(server, channel, { n: 1 });
  await pubs.waitFor(1);

  const unsubscribed = once(sub, 'unsubscribed');
  sub.unsubscribe();
  await unsubscribed;
  const subscribed = once(sub, 'subscribed');
  sub.subscribe();
  const ctx = await subscribed;
  assert.equal(ctx.streamPosition.offset, 1, 'a fresh subscribe starts at the current top');

  await publish(server, channel, { n: 2 });
  await publish(server, channel, { n: 3 });
  await pubs.waitFor(3);
  // Barrier: a publication on another channel of the same connection, published last; a
  // second delivery of 2 or 3 (say, from a stale registration) would have come before it.
  const barrierChannel = uniqueChannel('demo:resub-barrier');
  const { pubs: barrierPubs } = await subscribe(client, barrierChannel);
  await publish(server, barrierChannel, { barrier: true });
  await barrierPubs.waitFor(1);
  assert.deepEqual(pubs.items.map((p) => p.offset), [1, 2, 3]);
});
