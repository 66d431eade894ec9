// Cluster delivery: 3 nodes behind HAProxy, 300 subscribers spread over them, 10,000 publications
// through the server API of random nodes. Every subscriber gets every publication of its channel
// exactly once and in order, whichever node it is on and whichever node took the publish.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, until, mapLimit } from '../lib/cluster.mjs';
import { CentrifugeSubscriber, RawClient } from '../lib/clients.mjs';

const CLIENTS = 300;
const CHANNELS = 10;
const PUBLICATIONS = 10000;
const run = Date.now().toString(36);
const channelName = (c) => `feed:delivery-${run}-${c}`;

let cluster;
const clients = [];

before(async () => { cluster = await startCluster({ nodes: 3 }); }, { timeout: 120000 });
after(async () => {
  for (const client of clients) client.stop();
  await cluster?.down();
}, { timeout: 120000 });

test('10,000 publications through random nodes reach all 300 subscribers on 3 nodes exactly once, in order', async (t) => {
  // Half real centrifuge clients, half raw JSON-protocol clients, all through HAProxy.
  const specs = Array.from({ length: CLIENTS }, (_, i) => ({ i, channel: channelName(i % CHANNELS), user: `delivery-${i}` }));
  await mapLimit(specs, 20, async ({ i, channel, user }) => {
    if (i % 2 === 0) {
      const client = new CentrifugeSubscriber(cluster.lbWs, { user, channel });
      clients.push(client);
      await client.start();
    } else {
      const client = new RawClient(cluster.lbWs, { user });
      clients.push(client);
      await client.connect();
      await client.subscribe(channel);
      client.channel = channel;
    }
  });

  // The clients really are spread over the three nodes: by the node each connect reply names,
  // and by the nodes' own counts in `info`.
  const perNode = {};
  for (const client of clients) perNode[client.node] = (perNode[client.node] ?? 0) + 1;
  t.diagnostic(`clients per node (connect replies): ${JSON.stringify(perNode)}`);
  assert.deepEqual(Object.keys(perNode).sort(), ['node-1', 'node-2', 'node-3']);
  for (const [node, count] of Object.entries(perNode)) {
    assert.ok(count >= CLIENTS / 6, `HAProxy (leastconn) gave ${node} only ${count} of ${CLIENTS} clients`);
  }
  const info = await until(async () => {
    const result = await cluster.call(1, 'info');
    const sum = result.nodes.reduce((n, node) => n + (node.num_clients ?? 0), 0);
    return result.nodes.length === 3 && sum === CLIENTS ? result : null;
  }, { timeoutMs: 15000, message: async () => `info: ${JSON.stringify(await cluster.call(1, 'info'))}` });
  for (const node of info.nodes) {
    assert.equal(node.num_clients, perNode[node.name], `info's count of ${node.name} matches the clients it answered`);
  }

  // 10,000 publications, 1,000 per channel, each through the API of a random node, 16 at a time.
  const published = new Map(); // channel → Map(offset → k)
  const jobs = Array.from({ length: PUBLICATIONS }, (_, k) => k);
  const started = Date.now();
  const byNode = [0, 0, 0];
  await mapLimit(jobs, 16, async (k) => {
    const channel = channelName(k % CHANNELS);
    const node = 1 + Math.floor(Math.random() * 3);
    byNode[node - 1] += 1;
    const result = await cluster.call(node, 'publish', { channel, data: { k } });
    if (!published.has(channel)) published.set(channel, new Map());
    assert.ok(!published.get(channel).has(result.offset), `offset ${result.offset} of ${channel} given twice`);
    published.get(channel).set(result.offset, k);
  });
  t.diagnostic(`published ${PUBLICATIONS} in ${Date.now() - started} ms (through node-1/2/3: ${byNode.join('/')})`);
  for (const [channel, offsets] of published) {
    assert.deepEqual([...offsets.keys()].sort((a, b) => a - b), Array.from({ length: PUBLICATIONS / CHANNELS }, (_, i) => i + 1), `${channel} got offsets 1..1000`);
  }

  const perChannel = PUBLICATIONS / CHANNELS;
  const received = (client) => (client.kind === 'raw' ? client.received(client.channel) : client.received);
  await until(() => clients.every((c) => received(c) >= perChannel), {
    timeoutMs: 120000,
    intervalMs: 200,
    message: () => {
      const short = clients.filter((c) => received(c) < perChannel);
      return `${short.length} clients still short, e.g. ${short.slice(0, 5).map((c) => `${c.user}@${c.node}: ${received(c)}/${perChannel}`).join(', ')}`;
    },
  });

  const expected = Array.from({ length: perChannel }, (_, i) => i + 1);
  for (const client of clients) {
    const channel = client.channel;
    const wire = client.kind === 'raw' ? client.stream(channel) : client.stream();
    assert.deepEqual(wire.problems, [], `${client.user} (${client.kind}, ${client.node}) on ${channel}`);
    assert.deepEqual(wire.offsets, expected, `${client.user} (${client.kind}, ${client.node}): the server sent 1..${perChannel} once each, in order`);
    if (client.kind === 'centrifuge') {
      // What the application saw: the same, in the same order.
      assert.deepEqual(client.pubs.map((p) => p.offset), expected, `${client.user}: publication events 1..${perChannel} in order`);
      assert.deepEqual(client.pubs.map((p) => p.data.k), expected.map((o) => published.get(channel).get(o)), `${client.user}: each offset carries its publication`);
    } else {
      const data = client.tap.log(channel).filter((e) => e.kind === 'pub').map((e) => e.data.k);
      assert.deepEqual(data, expected.map((o) => published.get(channel).get(o)), `${client.user}: each offset carries its publication`);
    }
  }
  // Nothing came twice through a late duplicate either.
  assert.ok(clients.every((c) => received(c) === perChannel));
});
