// Redis restarted without persistence mid-stream: the streams are gone. No node falls over, and no
// subscriber is left with a silent gap: each one's stream either continues contiguously or is
// explicitly marked `recovered: false` (centrifuge: `subscribed` with wasRecovering && !recovered).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, until } from '../lib/cluster.mjs';
import { redisRestartScenario, allNodesHealthy, received, stream, wireTail, subscriberCounts } from '../lib/redis-restart.mjs';

let cluster;
const clients = [];

before(async () => { cluster = await startCluster({ nodes: 3 }); }, { timeout: 120000 });
after(async () => {
  for (const client of clients) client.stop();
  await cluster?.down();
}, { timeout: 120000 });

test('after a Redis restart without persistence every subscriber continues contiguously or is told recovered: false, and every node stays up', async (t) => {
  const run = Date.now().toString(36);
  const result = await redisRestartScenario(t, cluster, { prefix: `restart-${run}`, clients });
  const { channels, successes, failures, epochBefore } = result;
  for (const ch of channels) t.diagnostic(`${ch}: ${successes.get(ch).length} publications succeeded, ${failures.get(ch).length} failed while Redis was away`);

  // No node crashed: every recorded process still runs and is ready (Healthy, not Degraded).
  const status = await cluster.status();
  assert.ok(status.nodes.every((n) => n.pid !== null), `every node process still runs: ${JSON.stringify(status.nodes)}`);
  await allNodesHealthy(cluster);

  // The data really was lost: the streams went on in a new epoch.
  const now = new Map(channels.map((ch) => [ch, successes.get(ch).at(-1)]));
  for (const ch of channels) {
    assert.notEqual(now.get(ch).epoch, epochBefore.get(ch), `${ch}: a stream lost with Redis has a new epoch`);
  }

  // Every subscriber catches up with the new stream's top.
  await until(() => clients.every((c) => {
    const s = stream(c);
    const top = now.get(c.channel);
    return s.epoch === top.epoch && s.position === top.offset;
  }), {
    timeoutMs: 20000,
    intervalMs: 100,
    message: async () => `${await subscriberCounts(cluster, clients, channels)}\n` + clients.filter((c) => stream(c).position !== now.get(c.channel).offset).slice(0, 5)
      .map((c) => `${c.user} (${c.kind}, ${c.node}) at ${stream(c).epoch}/${stream(c).position}, top ${JSON.stringify(now.get(c.channel))}, received ${received(c)}; wire: ${wireTail(c)}`).join('\n'),
  });

  for (const c of clients) {
    const s = stream(c);
    assert.deepEqual(s.problems, [], `${c.user} (${c.kind}, ${c.node}): no silent gap, nothing twice; wire: ${wireTail(c, 14)}`);
    // The node kept the connection and told the subscription to resubscribe (2500).
    assert.deepEqual(c.tap.closes, [], `${c.user}: the connection survived the Redis restart`);
    assert.ok(c.tap.log(c.channel).some((e) => e.kind === 'unsub' && e.code === 2500), `${c.user}: got unsubscribe push 2500`);
    assert.ok(s.announcedGaps >= 1, `${c.user}: its stream was lost, so it was told recovered: false`);
    const ns = c.kind === 'raw'
      ? c.tap.log(c.channel).filter((e) => e.kind === 'pub').map((e) => e.data.n)
      : c.pubs.map((p) => p.data.n);
    assert.equal(new Set(ns).size, ns.length, `${c.user}: no publication delivered twice`);
    if (c.kind === 'centrifuge') {
      assert.ok(c.subscribedEvents.some((e) => e.wasRecovering && !e.recovered), `${c.user}: the application saw subscribed with wasRecovering && !recovered`);
      assert.equal(c.client.state, 'connected');
      assert.equal(c.sub.state, 'subscribed');
    }
  }
});
