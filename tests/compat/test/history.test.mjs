import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, subscribe, publish, uniqueChannel, uniqueUser, userToken, rejection,
} from '../lib/harness.mjs';

let server;
before(async () => { server = await startServer(); });
afterEach(() => server.disconnectAll());
after(async () => { await server?.stop(); });

/** Publishes `{ n }` for n = 1..count through the server API; returns the stream's epoch. */
async function publishNumbered(channel, count) {
  let epoch;
  for (let n = 1; n <= count; n++) {
    const result = await publish(server, channel, { n });
    assert.equal(result.offset, n);
    epoch ??= result.epoch;
    assert.equal(result.epoch, epoch);
  }
  return epoch;
}

const offsets = (pubs) => pubs.map((p) => p.offset);
const range = (from, to) => (from <= to
  ? Array.from({ length: to - from + 1 }, (_, i) => from + i)
  : Array.from({ length: from - to + 1 }, (_, i) => from - i));

test('a subscriber pages through history with limit, since and reverse', async () => {
  const channel = uniqueChannel('chat:history');
  const client = await server.connect({ token: userToken(uniqueUser('reader')) });
  const { sub, ctx, pubs } = await subscribe(client, channel);
  const epoch = await publishNumbered(channel, 10);
  await pubs.waitFor(10);
  assert.equal(ctx.streamPosition.epoch, epoch);

  // No limit: the stream position only.
  const position = await sub.history();
  assert.deepEqual(position, { publications: [], epoch, offset: 10 });
  const zero = await sub.history({ limit: 0 });
  assert.deepEqual(zero, { publications: [], epoch, offset: 10 });

  const oldest = await sub.history({ limit: 3 });
  assert.deepEqual(offsets(oldest.publications), [1, 2, 3]);
  assert.deepEqual(oldest.publications.map((p) => p.data), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.equal(oldest.publications[0].channel, channel);
  assert.equal(oldest.epoch, epoch);
  assert.equal(oldest.offset, 10);

  const newest = await sub.history({ limit: 3, reverse: true });
  assert.deepEqual(offsets(newest.publications), [10, 9, 8]);
  assert.deepEqual(newest.publications.map((p) => p.data), [{ n: 10 }, { n: 9 }, { n: 8 }]);

  const next = await sub.history({ limit: 3, since: { offset: 3, epoch } });
  assert.deepEqual(offsets(next.publications), [4, 5, 6]);
  const previous = await sub.history({ limit: 3, since: { offset: 8, epoch }, reverse: true });
  assert.deepEqual(offsets(previous.publications), [7, 6, 5]);

  const rest = await sub.history({ limit: 100, since: { offset: 6, epoch } });
  assert.deepEqual(offsets(rest.publications), [7, 8, 9, 10]);
  // limit -1: everything (within the server's history limit).
  const all = await sub.history({ limit: -1 });
  assert.deepEqual(offsets(all.publications), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const none = await sub.history({ limit: 100, since: { offset: 10, epoch } });
  assert.deepEqual(none.publications, []);
  assert.equal(none.offset, 10);
});

test('history since a position of another epoch fails with error 112 (unrecoverable position)', async () => {
  const channel = uniqueChannel('chat:history-epoch');
  const client = await server.connect({ token: userToken(uniqueUser('reader')) });
  const { sub } = await subscribe(client, channel);
  await publishNumbered(channel, 3);
  const error = await rejection(sub.history({ limit: 10, since: { offset: 1, epoch: 'not-the-epoch' } }));
  assert.equal(error.code, 112);
  const api = await server.api('history', { channel, limit: 10, since: { offset: 1, epoch: 'not-the-epoch' } });
  assert.equal(api.error.code, 112);
});

test('a client that is not subscribed may not read history of a `chat` channel (103)', async () => {
  const channel = uniqueChannel('chat:history-outsider');
  await publishNumbered(channel, 2);
  const client = await server.connect({ token: userToken(uniqueUser('outsider')) });
  const error = await rejection(client.history(channel, { limit: 10 }));
  assert.equal(error.code, 103);
});

test('the server API pages forward through history with limit and since', async () => {
  const channel = uniqueChannel('chat:api-history');
  const epoch = await publishNumbered(channel, 25);

  const seen = [];
  let since;
  for (const expected of [range(1, 10), range(11, 20), range(21, 25), []]) {
    const reply = await server.api('history', { channel, limit: 10, ...(since ? { since } : {}) });
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    const page = reply.result;
    assert.deepEqual(offsets(page.publications ?? []), expected);
    assert.equal(page.epoch, epoch);
    assert.equal(page.offset, 25);
    seen.push(...(page.publications ?? []).map((p) => p.data.n));
    if (expected.length > 0) since = { offset: expected.at(-1), epoch };
  }
  assert.deepEqual(seen, range(1, 25));
});

test('the server API pages backward through history with limit, since and reverse', async () => {
  const channel = uniqueChannel('chat:api-history-reverse');
  const epoch = await publishNumbered(channel, 25);

  const seen = [];
  let since;
  for (const expected of [range(25, 16), range(15, 6), range(5, 1), []]) {
    const reply = await server.api('history', { channel, limit: 10, reverse: true, ...(since ? { since } : {}) });
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    const page = reply.result;
    assert.deepEqual(offsets(page.publications ?? []), expected);
    assert.equal(page.epoch, epoch);
    assert.equal(page.offset, 25);
    seen.push(...(page.publications ?? []).map((p) => p.data.n));
    if (expected.length > 0) since = { offset: expected.at(-1), epoch };
  }
  assert.deepEqual(seen, range(25, 1));
});

test('the server API history with limit 0 returns the stream position only', async () => {
  const channel = uniqueChannel('chat:api-history-position');
  const epoch = await publishNumbered(channel, 4);
  const reply = await server.api('history', { channel, limit: 0 });
  assert.deepEqual(reply.result.publications ?? [], []);
  assert.equal(reply.result.offset, 4);
  assert.equal(reply.result.epoch, epoch);
});

test('history_remove drops the publications but keeps the stream position', async () => {
  const channel = uniqueChannel('chat:api-history-remove');
  const epoch = await publishNumbered(channel, 3);
  assert.deepEqual(await server.api('history_remove', { channel }), { result: {} });
  const reply = await server.api('history', { channel, limit: 10 });
  assert.deepEqual(reply.result.publications ?? [], []);
  assert.equal(reply.result.offset, 3);
  assert.equal(reply.result.epoch, epoch);
  const next = await publish(server, channel, { n: 4 });
  assert.deepEqual(next, { offset: 4, epoch });
});

test('history in a channel without history is not available (108)', async () => {
  // Channels outside a namespace keep no history in the test configuration.
  const reply = await server.api('history', { channel: uniqueChannel('nohistory'), limit: 10 });
  assert.equal(reply.error.code, 108);
});
