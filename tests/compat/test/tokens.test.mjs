import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import {
  startServer, once, onceWhere, collect, subscribe, publish, countingTransport, deferred,
  uniqueChannel, uniqueUser, userToken, token, now,
} from '../lib/harness.mjs';

const EXPIRED_CLOSE_DELAY_MS = 1000; // the harness's Switchboard__Client__ExpiredCloseDelay
const EXPIRED_SUB_CLOSE_DELAY_MS = 1000; // set below, like the connection's

let server;
before(async () => { server = await startServer({ Switchboard__Client__ExpiredSubCloseDelay: '00:00:01' }); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

/** A subscription token getter that records its calls. */
function subTokenGetter(makeToken) {
  const calls = [];
  return {
    calls,
    getToken: async (ctx) => {
      calls.push(ctx);
      return makeToken(ctx, calls.length);
    },
  };
}

// --- private channels and subscription tokens ---------------------------------------------

test('subscribing to a private $-channel without a subscription token is refused with 103', async () => {
  const client = await server.connect({ token: userToken(uniqueUser('alice')) });
  const sub = client.newSubscription(uniqueChannel('$secret:room'));
  const unsubscribed = once(sub, 'unsubscribed');
  sub.subscribe();
  const ctx = await unsubscribed;
  assert.equal(ctx.code, 103);
  assert.equal(client.state, 'connected');
});

test('subscribing to a private $-channel with a subscription token from getToken succeeds', async () => {
  const user = uniqueUser('alice');
  const channel = uniqueChannel('$secret:room');
  const client = await server.connect({ token: userToken(user) });
  const getter = subTokenGetter((ctx) => token({ sub: user, channel: ctx.channel, exp: now() + 3600 }));
  const { ctx, pubs } = await subscribe(client, channel, { getToken: getter.getToken });
  assert.equal(getter.calls.length, 1);
  assert.equal(getter.calls[0].channel, channel);
  assert.equal(ctx.channel, channel);
  assert.equal(ctx.recoverable, true, '`secret` forces recovery');

  await publish(server, channel, { text: 'for alice only' });
  const [pub] = await pubs.waitFor(1);
  assert.deepEqual(pub.data, { text: 'for alice only' });
  assert.equal(client.state, 'connected');
});

test('a subscription token given up front (the `token` option) also opens a private channel', async () => {
  const user = uniqueUser('alice');
  const channel = uniqueChannel('$secret:upfront');
  const client = await server.connect({ token: userToken(user) });
  const { ctx } = await subscribe(client, channel, { token: token({ sub: user, channel, exp: now() + 3600 }) });
  assert.equal(ctx.channel, channel);
});

test('a subscription token for another channel is refused: the connection is closed with 3500', async () => {
  const user = uniqueUser('alice');
  const client = await server.connect({ token: userToken(user) });
  const channel = uniqueChannel('$secret:room');
  const otherChannel = uniqueChannel('$secret:other');
  const sub = client.newSubscription(channel, {
    getToken: async () => token({ sub: user, channel: otherChannel, exp: now() + 3600 }),
  });
  const subscribed = collect(sub, 'subscribed');
  const disconnected = once(client, 'disconnected');
  sub.subscribe();
  const ctx = await disconnected;
  assert.equal(ctx.code, 3500);
  assert.equal(subscribed.items.length, 0);
  assert.equal(client.state, 'disconnected');
});

test('a subscription token of another user is refused: the connection is closed with 3500', async () => {
  const user = uniqueUser('alice');
  const client = await server.connect({ token: userToken(user) });
  const channel = uniqueChannel('$secret:room');
  const sub = client.newSubscription(channel, {
    getToken: async () => token({ sub: uniqueUser('mallory'), channel, exp: now() + 3600 }),
  });
  const subscribed = collect(sub, 'subscribed');
  const disconnected = once(client, 'disconnected');
  sub.subscribe();
  assert.equal((await disconnected).code, 3500);
  assert.equal(subscribed.items.length, 0);
});

test('an expired subscription token gets error 109 and the client subscribes with a fresh one', async () => {
  const user = uniqueUser('alice');
  const channel = uniqueChannel('$secret:expired');
  const client = await server.connect({ token: userToken(user) });
  const getter = subTokenGetter((ctx, call) => token({
    sub: user, channel: ctx.channel, exp: call === 1 ? now() - 60 : now() + 3600,
  }));
  const sub = client.newSubscription(channel, { getToken: getter.getToken, minResubscribeDelay: 50, maxResubscribeDelay: 100 });
  const error = once(sub, 'error');
  const subscribed = once(sub, 'subscribed');
  sub.subscribe();
  const errorCtx = await error;
  assert.equal(errorCtx.error.code, 109);
  await subscribed;
  assert.equal(getter.calls.length, 2);
  assert.equal(client.state, 'connected');
});

test('the info of a subscription token is the subscriber\'s channel info in presence and in its publications', async () => {
  // `$chat:` is a private channel in `chat`: a subscription token is needed, and `chat` has
  // presence and lets subscribers publish.
  const user = uniqueUser('alice');
  const channel = uniqueChannel('$chat:private');
  const client = await server.connect({ token: userToken(user, { info: { name: 'Alice' } }) });
  const { sub, pubs } = await subscribe(client, channel, {
    getToken: async (ctx) => token({ sub: user, channel: ctx.channel, exp: now() + 3600, info: { seat: 7 } }),
  });
  const { clients } = await sub.presence();
  const me = clients[client.connectedCtx.client];
  assert.equal(me.user, user);
  assert.deepEqual(me.connInfo, { name: 'Alice' });
  assert.deepEqual(me.chanInfo, { seat: 7 });

  await sub.publish({ text: 'hi' });
  const [pub] = await pubs.waitFor(1);
  assert.deepEqual(pub.info.chanInfo, { seat: 7 });
  assert.deepEqual(pub.info.connInfo, { name: 'Alice' });
});

test('a client refreshes an expiring subscription token and stays subscribed past the old expiry', async () => {
  const user = uniqueUser('sub-refresher');
  const channel = uniqueChannel('$secret:refreshed');
  const client = await server.connect({ token: userToken(user) });
  const calls = new EventEmitter();
  let callCount = 0;
  let firstExpMs = 0;
  const getToken = async (ctx) => {
    callCount += 1;
    const exp = now() + 2;
    if (callCount === 1) firstExpMs = exp * 1000;
    calls.emit('call', { n: callCount, at: Date.now() });
    return token({ sub: user, channel: ctx.channel, exp });
  };
  // Positive barrier: a getToken call made after the first token's expiry plus the server's
  // grace for subscriptions — had the refresh not worked, the server would have ended the
  // subscription (2501) by then.
  const pastDeadline = onceWhere(calls, 'call', (c) => firstExpMs > 0 && c.at > firstExpMs + EXPIRED_SUB_CLOSE_DELAY_MS, 15000);
  const sub = client.newSubscription(channel, { getToken });
  const subscribing = collect(sub, 'subscribing');
  const unsubscribed = collect(sub, 'unsubscribed');
  const pubs = collect(sub, 'publication');
  const subscribed = once(sub, 'subscribed');
  sub.subscribe();
  await subscribed;
  const late = await pastDeadline;
  assert.ok(late.n >= 3, 'refreshed at least twice');

  await publish(server, channel, { still: 'here' });
  const [pub] = await pubs.waitFor(1);
  assert.deepEqual(pub.data, { still: 'here' });
  assert.equal(sub.state, 'subscribed');
  assert.equal(subscribing.items.length, 1, 'only the initial subscribe');
  assert.equal(unsubscribed.items.length, 0);
});

test('a subscription whose token is not refreshed is ended with 2501 and resubscribes with a fresh token', async () => {
  const user = uniqueUser('sub-lazy');
  const channel = uniqueChannel('$secret:lazy');
  const client = await server.connect({ token: userToken(user) });
  const hang = deferred();
  let callCount = 0;
  const getToken = async (ctx) => {
    callCount += 1;
    if (callCount === 1) return token({ sub: user, channel: ctx.channel, exp: now() + 2 });
    if (callCount === 2) return hang.promise; // the refresh never completes
    return token({ sub: user, channel: ctx.channel, exp: now() + 3600 });
  };
  const sub = client.newSubscription(channel, { getToken, minResubscribeDelay: 50, maxResubscribeDelay: 100 });
  const subscribed = collect(sub, 'subscribed');
  const unsubscribed = collect(sub, 'unsubscribed');
  sub.subscribe();
  await subscribed.waitFor(1);
  const ended = await onceWhere(sub, 'subscribing', (ctx) => ctx.code === 2501, 15000);
  assert.ok(ended.reason);
  await subscribed.waitFor(2);
  assert.ok(callCount >= 3, 'a fresh token was fetched');
  assert.equal(subscribed.items[1].wasRecovering, true, '`secret` forces recovery, so the resubscribe recovers');
  assert.equal(subscribed.items[1].recovered, true);
  assert.equal(unsubscribed.items.length, 0, 'resubscribed, never left unsubscribed');
  assert.equal(client.state, 'connected');
});

// --- connection tokens ----------------------------------------------------------------------

test('a client refreshes its expiring connection token with getToken and stays connected past the old expiry', async () => {
  const user = uniqueUser('refresher');
  const calls = new EventEmitter();
  let callCount = 0;
  let firstExpMs = 0;
  const client = server.client({
    getToken: async () => {
      callCount += 1;
      const exp = now() + 2;
      if (callCount === 1) firstExpMs = exp * 1000;
      calls.emit('call', { n: callCount, at: Date.now() });
      return token({ sub: user, exp });
    },
  });
  const disconnects = collect(client, 'disconnected');
  const reconnects = collect(client, 'connecting');
  const connected = once(client, 'connected');
  const refreshed = onceWhere(calls, 'call', (c) => c.n === 2);
  // Positive barrier for "still connected after the deadline": the first getToken call made
  // after the first token's expiry plus the server's close delay. Each refresh happens about
  // two seconds after the previous one, so this arrives after one or two more refreshes.
  const pastDeadline = onceWhere(calls, 'call', (c) => firstExpMs > 0 && c.at > firstExpMs + EXPIRED_CLOSE_DELAY_MS, 15000);
  client.connect();
  const { client: clientId } = await connected;
  assert.equal(callCount, 1, 'the first token came from getToken');

  await refreshed; // the client asked for a new token before the first one ran out
  const late = await pastDeadline;
  assert.ok(late.n >= 3);

  const channel = uniqueChannel('chat:refreshed');
  const { pubs } = await subscribe(client, channel);
  await publish(server, channel, { alive: true });
  const [pub] = await pubs.waitFor(1);
  assert.deepEqual(pub.data, { alive: true });
  assert.equal(disconnects.items.length, 0, 'never disconnected');
  assert.equal(reconnects.items.length, 1, 'only the initial connect');
  assert.equal(client.state, 'connected');
  // Still the very same connection: a reconnect would have a new client id.
  const { clients } = await client.presence(channel);
  assert.deepEqual(Object.keys(clients), [clientId]);
});

test('a connection whose token is not refreshed in time is closed with 3005 and reconnects with a new token', async () => {
  const user = uniqueUser('lazy');
  const neverResolves = deferred();
  let callCount = 0;
  const client = server.client({
    getToken: async () => {
      callCount += 1;
      if (callCount === 1) return token({ sub: user, exp: now() + 2 });
      if (callCount === 2) return neverResolves.promise; // the refresh never completes
      return token({ sub: user, exp: now() + 3600 });
    },
  });
  const connecting = collect(client, 'connecting');
  const connected = collect(client, 'connected');
  client.connect();
  await connected.waitFor(1);
  await onceWhere(client, 'connecting', (ctx) => ctx.code === 3005, 15000);
  await connected.waitFor(2);
  assert.notEqual(connected.items[1].client, connected.items[0].client);
  assert.ok(callCount >= 3, 'a fresh token was fetched for the new connection');
  assert.ok(connecting.items.some((c) => c.code === 3005));
});

test('an expired connection token at connect gets error 109 and the client connects with a new one from getToken', async () => {
  const user = uniqueUser('late');
  let getTokenCalls = 0;
  const client = server.client({
    token: token({ sub: user, exp: now() - 60 }),
    getToken: async () => {
      getTokenCalls += 1;
      return token({ sub: user, exp: now() + 3600 });
    },
  });
  const error = once(client, 'error');
  const connected = once(client, 'connected');
  client.connect();
  const errorCtx = await error;
  assert.equal(errorCtx.type, 'connect');
  assert.equal(errorCtx.error.code, 109);
  await connected;
  assert.equal(getTokenCalls, 1);
  // Connected as that user: `chat` admits authenticated users only, and presence names it.
  const { sub } = await subscribe(client, uniqueChannel('chat:late'));
  const { clients } = await sub.presence();
  assert.deepEqual(Object.values(clients).map((c) => c.user), [user]);
});

test('a connection token with a bad signature is refused with 3500 and the client does not reconnect', async () => {
  const ws = countingTransport();
  const client = server.client({
    token: token({ sub: uniqueUser('forger'), exp: now() + 3600 }, 'not-the-server-secret-0123456789-abcdef'),
    ...ws.options,
    minReconnectDelay: 0,
    maxReconnectDelay: 0,
  });
  const connected = collect(client, 'connected');
  const connecting = collect(client, 'connecting');
  const disconnected = once(client, 'disconnected');
  client.connect();
  const ctx = await disconnected;
  assert.equal(ctx.code, 3500);
  // No reconnect: the client went to 'disconnected', not back to 'connecting' (the only state
  // from which it reconnects). Barrier: a server API round trip later — with a zero reconnect
  // delay any reconnect would have opened a second transport by then.
  await server.api('info');
  assert.equal(client.state, 'disconnected');
  assert.equal(connected.items.length, 0);
  assert.equal(connecting.items.length, 1, 'only the initial connect');
  assert.equal(ws.opened, 1);
});
