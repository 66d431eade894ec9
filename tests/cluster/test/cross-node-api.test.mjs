// The server API of one node acts on the whole cluster: users connected to another node are
// disconnected, unsubscribed, subscribed and refreshed; presence and info cover every node; a
// killed node leaves `info` within two node TTLs.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import { startCluster, until } from '../lib/cluster.mjs';
import { RawClient, WireTap, tappedWebSocket, userToken } from '../lib/clients.mjs';

const NODE_TTL_MS = 2000;
const run = Date.now().toString(36);
let cluster;
let made = [];

before(async () => {
  cluster = await startCluster({
    nodes: 3,
    env: { Switchboard__Redis__NodeTtl: '00:00:02', Switchboard__Redis__NodeHeartbeatInterval: '00:00:00.500' },
  });
}, { timeout: 120000 });
afterEach(() => {
  for (const c of made.splice(0)) (c.stop ?? c.disconnect).call(c);
});
after(async () => { await cluster?.down(); }, { timeout: 120000 });

/** Resolves with the first `name` event of `emitter` whose context passes `predicate`. */
function next(emitter, name, predicate = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const listener = (ctx) => {
      if (!predicate(ctx)) return;
      clearTimeout(timer);
      emitter.off(name, listener);
      resolve(ctx);
    };
    const timer = setTimeout(() => { emitter.off(name, listener); reject(new Error(`no '${name}' within ${timeoutMs} ms`)); }, timeoutMs);
    emitter.on(name, listener);
  });
}

/** A centrifuge client connected straight to node i (not through HAProxy). */
async function connectTo(i, user, options = {}) {
  const tap = new WireTap();
  const client = new Centrifuge(cluster.node(i).ws, { websocket: tappedWebSocket(tap), token: userToken(user), ...options });
  made.push(client);
  const connected = next(client, 'connected');
  client.connect();
  client.connectedCtx = await connected;
  client.tap = tap;
  assert.equal(tap.node, `node-${i}`, `${user} is connected to node-${i}`);
  return client;
}

async function subscribeTo(client, channel) {
  const sub = client.newSubscription(channel);
  const subscribed = next(sub, 'subscribed');
  sub.subscribe();
  await subscribed;
  return sub;
}

test('a user connected to node-2 is disconnected through the API of node-1', async () => {
  const user = `cross-disconnect-${run}`;
  const client = await connectTo(2, user);
  const disconnected = next(client, 'disconnected');
  await cluster.call(1, 'disconnect', { user });
  const ctx = await disconnected;
  assert.equal(ctx.code, 3503, `disconnect code: ${JSON.stringify(ctx)}`);
  assert.equal(client.state, 'disconnected');
});

test('a user on node-2 is disconnected with the code and reason given to node-1, and reconnects when the code says so', async () => {
  const user = `cross-reconnect-${run}`;
  const client = await connectTo(2, user, { minReconnectDelay: 50, maxReconnectDelay: 100 });
  const connecting = next(client, 'connecting');
  const reconnected = next(client, 'connected');
  await cluster.call(1, 'disconnect', { user, disconnect: { code: 3011, reason: 'move along' } });
  const ctx = await connecting;
  assert.equal(ctx.code, 3011);
  assert.equal(ctx.reason, 'move along');
  await reconnected;
});

test('a user on node-2 is unsubscribed through the API of node-1 and stays connected', async () => {
  const user = `cross-unsubscribe-${run}`;
  const channel = `room:unsub-${run}`;
  const client = await connectTo(2, user);
  const sub = await subscribeTo(client, channel);
  const unsubscribed = next(sub, 'unsubscribed');
  await cluster.call(1, 'unsubscribe', { user, channel });
  const ctx = await unsubscribed;
  assert.equal(ctx.code, 2000, `unsubscribe code: ${JSON.stringify(ctx)}`);
  assert.equal(sub.state, 'unsubscribed');
  assert.equal(client.state, 'connected');
});

test('a user on node-2 is subscribed through the API of node-1 and then receives what node-3 publishes', async () => {
  const user = `cross-subscribe-${run}`;
  const channel = `feed:server-sub-${run}`;
  const client = await connectTo(2, user);
  const subscribed = next(client, 'subscribed', (ctx) => ctx.channel === channel);
  await cluster.call(1, 'subscribe', { user, channel });
  const ctx = await subscribed;
  assert.equal(ctx.channel, channel);
  const publication = next(client, 'publication', (p) => p.channel === channel);
  const result = await cluster.call(3, 'publish', { channel, data: { hello: 'from node-3' } });
  const pub = await publication;
  assert.deepEqual(pub.data, { hello: 'from node-3' });
  assert.equal(pub.offset, result.offset);
});

test('a user on node-2 gets a new expiry through the API of node-1, and is closed with 3005 when node-1 expires it', async () => {
  const user = `cross-refresh-${run}`;
  const client = new RawClient(cluster.node(2).ws, { user });
  made.push(client);
  await client.connect();
  assert.equal(client.node, 'node-2');
  const expireAt = Math.floor(Date.now() / 1000) + 7200;
  const refreshed = next(client, 'push', (p) => p.refresh);
  await cluster.call(1, 'refresh', { user, expire_at: expireAt });
  const push = (await refreshed).refresh;
  assert.equal(push.expires, true, `refresh push: ${JSON.stringify(push)}`);
  assert.ok(Math.abs(push.ttl - 7200) <= 5, `ttl ${push.ttl} ≈ 7200 s`);

  const closed = next(client, 'close');
  await cluster.call(1, 'refresh', { user, expired: true });
  assert.equal((await closed).code, 3005);
});

test('presence and presence_stats of a channel with subscribers on every node list them all, asked from any node', async () => {
  const channel = `room:presence-${run}`;
  const members = [];
  for (const i of [1, 2, 3]) {
    for (const k of [1, 2]) {
      const user = `presence-${run}-n${i}-${k}`;
      const client = await connectTo(i, user);
      await subscribeTo(client, channel);
      members.push({ user, client: client.connectedCtx.client, node: i });
    }
  }
  const expected = Object.fromEntries(members.map((m) => [m.client, m.user]));
  for (const i of [1, 2, 3]) {
    const presence = await until(async () => {
      const result = await cluster.call(i, 'presence', { channel });
      return Object.keys(result.presence).length === members.length ? result.presence : null;
    }, { timeoutMs: 10000, message: async () => `node-${i} presence: ${JSON.stringify(await cluster.call(i, 'presence', { channel }))}` });
    assert.deepEqual(Object.fromEntries(Object.entries(presence).map(([id, info]) => [id, info.user])), expected, `presence from node-${i}`);
    for (const [id, info] of Object.entries(presence)) assert.equal(info.client, id);
    const stats = await cluster.call(i, 'presence_stats', { channel });
    assert.deepEqual(stats, { num_clients: 6, num_users: 6 }, `presence_stats from node-${i}`);
  }
});

test('info from any node lists all three nodes', async () => {
  for (const i of [1, 2, 3]) {
    const names = await until(async () => {
      const result = await cluster.call(i, 'info');
      const list = result.nodes.map((n) => n.name).sort();
      return list.length === 3 ? list : null;
    }, { timeoutMs: 10000, message: async () => `node-${i} info: ${JSON.stringify(await cluster.call(i, 'info'))}` });
    assert.deepEqual(names, ['node-1', 'node-2', 'node-3'], `info from node-${i}`);
  }
});

// Kills node-3: keep it last.
test('a killed node drops out of info on the others within two node TTLs', async (t) => {
  for (const i of [1, 2]) {
    const result = await cluster.call(i, 'info');
    assert.ok(result.nodes.some((n) => n.name === 'node-3'), `node-${i} lists node-3 before the kill`);
  }
  await cluster.killNode(3);
  const killedAt = Date.now();
  const limit = 2 * NODE_TTL_MS;
  const gone = await Promise.all([1, 2].map((i) => until(async () => {
    const result = await cluster.call(i, 'info');
    return result.nodes.some((n) => n.name === 'node-3') ? null : { at: Date.now(), names: result.nodes.map((n) => n.name).sort() };
  }, { timeoutMs: limit + 3000, intervalMs: 100, message: `node-${i} still lists node-3` })));
  for (const [k, { at, names }] of gone.entries()) {
    const elapsed = at - killedAt;
    t.diagnostic(`node-${k + 1} dropped node-3 from info ${elapsed} ms after the kill (NodeTtl ${NODE_TTL_MS} ms)`);
    assert.deepEqual(names, ['node-1', 'node-2']);
    // 100 ms of polling slack beyond two TTLs.
    assert.ok(elapsed <= limit + 100, `node-${k + 1} dropped node-3 after ${elapsed} ms, more than 2 × NodeTtl = ${limit} ms`);
  }
});
