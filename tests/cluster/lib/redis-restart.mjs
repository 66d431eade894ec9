// The scenario both Redis restart tests share: subscribers spread over 3 nodes, publications
// streaming in through every node, Redis stopped and started again mid-stream.
import { setTimeout as delay } from 'node:timers/promises';
import { until, mapLimit } from './cluster.mjs';
import { CentrifugeSubscriber, RawClient } from './clients.mjs';

export const received = (c) => (c.kind === 'raw' ? c.received(c.channel) : c.received);
export const stream = (c) => (c.kind === 'raw' ? c.stream(c.channel) : c.stream());

/** The last wire entries of a client's channel, compactly, for failure messages. */
export function wireTail(c, count = 8) {
  return c.tap.log(c.channel).slice(-count).map((e) => {
    const at = new Date(e.at).toISOString().slice(17, 23);
    if (e.kind === 'pub') return `${at} pub ${e.offset} (n ${e.data?.n}) conn ${e.conn}`;
    if (e.kind === 'sub') return `${at} sub ${e.epoch}/${e.offset}${e.wasRecovering ? ` recovering recovered=${e.recovered}` : ''} +${e.count} conn ${e.conn}`;
    return `${at} unsub ${e.code} conn ${e.conn}`;
  }).join(' | ');
}

/**
 * Runs the scenario on `cluster` and returns what happened:
 * { clients, channels, successes: channel → [{ n, offset, epoch }], failures: channel → count,
 *   epochBefore: channel → epoch, restartedAt, resubscribedBy }.
 * `prefix` names the channels; `clients` collects the clients for the caller's cleanup.
 */
export async function redisRestartScenario(t, cluster, { prefix, clients, centrifugeClients = 30, rawClients = 15, channels: channelCount = 3 }) {
  const channels = Array.from({ length: channelCount }, (_, c) => `feed:${prefix}-${c}`);
  const specs = Array.from({ length: centrifugeClients + rawClients }, (_, i) => ({ i, channel: channels[i % channelCount], user: `${prefix}-${i}` }));
  await mapLimit(specs, 15, async ({ i, channel, user }) => {
    if (i < centrifugeClients) {
      const client = new CentrifugeSubscriber(cluster.lbWs, { user, channel });
      clients.push(client);
      await client.start();
    } else {
      const client = new RawClient(cluster.lbWs, { user, reconnect: true });
      client.channel = channel;
      clients.push(client);
      await client.connect();
      await client.subscribe(channel);
    }
  });
  const perNode = {};
  for (const c of clients) perNode[c.node] = (perNode[c.node] ?? 0) + 1;
  t.diagnostic(`clients per node: ${JSON.stringify(perNode)}`);

  // One publication per channel every 20 ms, through node-1, -2, -3 in turn. While Redis is away
  // publishes fail (a temporary error); those are counted, not retried.
  const successes = new Map(channels.map((ch) => [ch, []]));
  const failures = new Map(channels.map((ch) => [ch, []]));
  let publishing = true;
  const publishers = channels.map(async (channel) => {
    for (let n = 1; publishing; n++) {
      const node = 1 + (n % 3);
      try {
        const reply = await cluster.api(node, 'publish', { channel, data: { n } });
        if (reply.error) failures.get(channel).push({ n, node, error: reply.error });
        else successes.get(channel).push({ n, offset: reply.result.offset, epoch: reply.result.epoch });
      } catch (error) {
        failures.get(channel).push({ n, node, error: String(error) });
      }
      await delay(20);
    }
  });

  try {
    await until(() => clients.every((c) => received(c) >= 20), { timeoutMs: 30000, message: 'every client received 20 publications before the restart' });
    const epochBefore = new Map(channels.map((ch) => [ch, successes.get(ch).at(-1).epoch]));
    const restartedAt = Date.now();
    await cluster.restartRedis();
    t.diagnostic(`Redis restarted ${Date.now() - restartedAt} ms after the stop began`);

    // Every subscriber is subscribed again after the restart (told to resubscribe with 2500, or
    // reconnected), and the stream then goes on: 25 more successful publications per channel.
    const resubscribed = (c) => c.subscribedEvents.some((e) => e.at >= restartedAt);
    await until(() => clients.every(resubscribed), {
      timeoutMs: 30000,
      intervalMs: 100,
      message: () => {
        const pending = clients.filter((c) => !resubscribed(c));
        return `${pending.length} clients not subscribed again after the restart, e.g. ${pending.slice(0, 5).map((c) => `${c.user} (${c.kind}, ${c.node}, ${c.kind === 'raw' ? '' : `${c.client.state}/${c.sub.state}`})`).join(', ')}`;
      },
    });
    const resubscribedBy = Date.now();
    const mark = new Map(channels.map((ch) => [ch, successes.get(ch).length]));
    await until(() => channels.every((ch) => successes.get(ch).length >= mark.get(ch) + 25), { timeoutMs: 30000, message: 'publishing works again after the restart' });
    return { clients, channels, successes, failures, epochBefore, restartedAt, resubscribedBy };
  } finally {
    publishing = false;
    await Promise.all(publishers);
  }
}

/**
 * What the cluster itself counts: subscribers per channel by the `channels` API (every node's
 * hub) beside the clients of the test holding a subscription, for failure messages.
 */
export async function subscriberCounts(cluster, clients, channels) {
  let counted = {};
  try {
    counted = (await cluster.call(1, 'channels', {})).channels;
  } catch (error) {
    return `channels API failed: ${error.message}`;
  }
  return channels.map((ch) => `${ch}: ${clients.filter((c) => c.channel === ch).length} clients subscribed, the cluster counts ${counted[ch]?.num_clients ?? 0}`).join('; ');
}

/** Polls until every node answers its readiness probe with 200 Healthy. */
export async function allNodesHealthy(cluster, nodes = 3) {
  return until(async () => {
    const answers = await Promise.all(Array.from({ length: nodes }, (_, i) => cluster.ready(i + 1)));
    return answers.every((a) => a.status === 200 && a.body === 'Healthy') ? answers : null;
  }, {
    timeoutMs: 20000,
    intervalMs: 200,
    message: async () => {
      const answers = await Promise.all(Array.from({ length: nodes }, (_, i) => cluster.ready(i + 1)));
      return `readiness: ${answers.map((a, i) => `node-${i + 1} ${a.status} ${a.body}`).join('; ')}`;
    },
  });
}
