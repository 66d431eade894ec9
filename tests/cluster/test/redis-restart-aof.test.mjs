// Redis with AOF (appendfsync always) restarted mid-stream: the streams survive, so every
// subscriber recovers and no successful publication is lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, until } from '../lib/cluster.mjs';
import { redisRestartScenario, allNodesHealthy, received, stream, wireTail, subscriberCounts } from '../lib/redis-restart.mjs';

let cluster;
const clients = [];

before(async () => { cluster = await startCluster({ nodes: 3, aof: true }); }, { timeout: 120000 });
after(async () => {
  for (const client of clients) client.stop();
  await cluster?.down();
}, { timeout: 120000 });

test('after a restart of Redis with AOF every subscriber recovers and no publication is lost', async (t) => {
  const run = Date.now().toString(36);
  const result = await redisRestartScenario(t, cluster, { prefix: `restart-aof-${run}`, clients });
  const { channels, successes, failures, epochBefore, restartedAt } = result;
  for (const ch of channels) t.diagnostic(`${ch}: ${successes.get(ch).length} publications succeeded, ${failures.get(ch).length} failed while Redis was away`);

  const status = await cluster.status();
  assert.ok(status.nodes.every((n) => n.pid !== null), `every node process still runs: ${JSON.stringify(status.nodes)}`);
  await allNodesHealthy(cluster);

  const top = new Map(channels.map((ch) => [ch, successes.get(ch).at(-1)]));
  for (const ch of channels) {
    assert.equal(top.get(ch).epoch, epochBefore.get(ch), `${ch}: the stream survived (same epoch)`);
  }
  await until(() => clients.every((c) => stream(c).position === top.get(c.channel).offset), {
    timeoutMs: 20000,
    intervalMs: 100,
    message: async () => `${await subscriberCounts(cluster, clients, channels)}\n` + clients.filter((c) => stream(c).position !== top.get(c.channel).offset).slice(0, 5)
      .map((c) => `${c.user} (${c.kind}, ${c.node}) at ${stream(c).position} of ${top.get(c.channel).offset}, received ${received(c)}; wire: ${wireTail(c)}`).join('\n'),
  });

  for (const c of clients) {
    const expected = Array.from({ length: top.get(c.channel).offset }, (_, i) => i + 1);
    const s = stream(c);
    assert.deepEqual(s.problems, [], `${c.user} (${c.kind}, ${c.node}): the stream as the server sent it; wire: ${wireTail(c, 14)}`);
    // The node kept the connection and told the subscription to resubscribe (2500).
    assert.deepEqual(c.tap.closes, [], `${c.user}: the connection survived the Redis restart`);
    assert.ok(c.tap.log(c.channel).some((e) => e.kind === 'unsub' && e.code === 2500), `${c.user}: got unsubscribe push 2500`);
    assert.equal(s.announcedGaps, 0, `${c.user}: recovered every time`);
    assert.deepEqual(s.offsets, expected, `${c.user}: every publication once, in order`);
    const got = new Set(s.offsets);
    const lost = successes.get(c.channel).filter((p) => !got.has(p.offset));
    assert.deepEqual(lost, [], `${c.user}: no successful publication lost`);
    const after = c.subscribedEvents.filter((e) => e.at >= restartedAt);
    assert.ok(after.length >= 1 && after.every((e) => e.wasRecovering && e.recovered), `${c.user}: resubscribed with recovered: true (${JSON.stringify(after)})`);
    if (c.kind === 'centrifuge') {
      assert.deepEqual(c.pubs.map((p) => p.offset).sort((a, b) => a - b), expected, `${c.user}: publication events, each offset once`);
    }
  }
});
