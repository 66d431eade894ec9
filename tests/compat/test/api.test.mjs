import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, subscribe, publish, uniqueChannel, API_KEY,
} from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

test('publishing twice with the same idempotency key publishes once: same offset, one delivery', async () => {
  const channel = uniqueChannel('demo:idempotent');
  const client = await server.connect();
  const { pubs } = await subscribe(client, channel);

  const first = await publish(server, channel, { text: 'once' }, { idempotency_key: 'order-42' });
  const second = await publish(server, channel, { text: 'once' }, { idempotency_key: 'order-42' });
  assert.equal(first.offset, 1);
  assert.deepEqual(second, first, 'the repeat reports the original result');

  // Barrier: a third publication (another key) arrives after anything the first two delivered.
  const third = await publish(server, channel, { text: 'next' }, { idempotency_key: 'order-43' });
  assert.equal(third.offset, 2);
  await pubs.waitFor(2);
  assert.deepEqual(pubs.items.map((p) => [p.offset, p.data.text]), [[1, 'once'], [2, 'next']]);
  const history = await server.api('history', { channel, limit: 10 });
  assert.deepEqual(history.result.publications.map((p) => p.offset), [1, 2]);
});

test('the same idempotency key in another channel is a different publication', async () => {
  const a = uniqueChannel('demo:idem-a');
  const b = uniqueChannel('demo:idem-b');
  await publish(server, a, { n: 1 });
  const inA = await publish(server, a, { n: 2 }, { idempotency_key: 'shared' });
  const inB = await publish(server, b, { n: 1 }, { idempotency_key: 'shared' });
  assert.equal(inA.offset, 2);
  assert.equal(inB.offset, 1);
  assert.notEqual(inA.epoch, inB.epoch);
});

test('a publication carries its tags to subscribers', async () => {
  const channel = uniqueChannel('demo:tags');
  const client = await server.connect();
  const { pubs } = await subscribe(client, channel);
  await publish(server, channel, { x: 1 }, { tags: { kind: 'greeting', lang: 'en' } });
  const [pub] = await pubs.waitFor(1);
  assert.deepEqual(pub.tags, { kind: 'greeting', lang: 'en' });
});

test('broadcast publishes to every listed channel and answers per channel', async () => {
  const one = uniqueChannel('demo:bc-one');
  const two = uniqueChannel('demo:bc-two');
  const client = await server.connect();
  const { pubs: pubsOne } = await subscribe(client, one);
  const { pubs: pubsTwo } = await subscribe(client, two);
  const reply = await server.api('broadcast', { channels: [one, two, 'nosuchns:x'], data: { all: true } });
  const [r1, r2, r3] = reply.result.responses;
  assert.equal(r1.result.offset, 1);
  assert.equal(r2.result.offset, 1);
  assert.equal(r3.error.code, 102);
  assert.deepEqual((await pubsOne.waitFor(1))[0].data, { all: true });
  assert.deepEqual((await pubsTwo.waitFor(1))[0].data, { all: true });
});

test('publishing to an undefined namespace through the API fails with 102', async () => {
  const reply = await server.api('publish', { channel: uniqueChannel('nosuchns:room'), data: { x: 1 } });
  assert.equal(reply.error.code, 102);
});

test('the channels API lists active channels with their subscriber counts', async () => {
  const channel = uniqueChannel('demo:listed');
  const a = await server.connect();
  const b = await server.connect();
  await subscribe(a, channel);
  await subscribe(b, channel);
  const reply = await server.api('channels', { pattern: channel });
  assert.deepEqual(reply.result.channels, { [channel]: { num_clients: 2 } });
});

test('the API refuses calls without the right key', async () => {
  for (const headers of [{}, { 'X-API-Key': 'wrong' }]) {
    const res = await fetch(`${server.url}/api/info`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: '{}',
    });
    const text = await res.text();
    assert.ok(res.status === 401 || /"error"/.test(text), `refused: HTTP ${res.status} ${text}`);
    assert.doesNotMatch(text, /"nodes"/);
  }
  const ok = await fetch(`${server.url}/api/info`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `apikey ${API_KEY}` },
    body: '{}',
  });
  assert.equal(ok.status, 200);
  assert.ok((await ok.json()).result.nodes.length === 1);
});

test('batch runs its commands in order and answers each', async () => {
  const channel = uniqueChannel('demo:batch');
  const reply = await server.api('batch', {
    commands: [
      { publish: { channel, data: { n: 1 } } },
      { publish: { channel, data: { n: 2 } } },
      { history: { channel, limit: 10 } },
      { publish: { channel: 'nosuchns:x', data: { n: 3 } } },
    ],
  });
  const [p1, p2, h, bad] = reply.result.replies;
  assert.equal(p1.publish.offset, 1);
  assert.equal(p2.publish.offset, 2);
  assert.deepEqual(h.history.publications.map((p) => p.data), [{ n: 1 }, { n: 2 }]);
  assert.equal(bad.error.code, 102);
});
