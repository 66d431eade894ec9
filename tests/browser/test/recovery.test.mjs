import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, shutdown, openDemo, connect, subscribe, subscriptionState, waitForState,
  waitForLog, logEntries, parsePublication, uniqueChannel, unexpectedProblems,
} from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await shutdown(browser, server); });

test('Disconnect, a publication while away, Connect: the subscription recovers it exactly once', async () => {
  const { page, context, problems } = await openDemo(browser, server);
  const channel = uniqueChannel('recover');
  const tag = Math.random().toString(36).slice(2);
  const firstClient = await connect(page);
  await subscribe(page, channel);
  const initial = await waitForLog(page, 'subscribed', { channel });
  assert.match(initial, /^recoverable: true, wasRecovering: false, recovered: false, offset 0, epoch "[^"]+"$/);
  const epoch = /epoch "([^"]+)"/.exec(initial)[1];

  const before = `before ${tag}`;
  await server.publish(channel, { text: before });
  await waitForLog(page, 'publication', { channel, text: before });

  await page.locator('#disconnect').click();
  await waitForState(page, 'disconnected');
  await waitForLog(page, 'disconnected', { text: 'code 0: disconnect called' });
  // The subscription stays on the page, waiting to resubscribe.
  await subscriptionState(page, channel, 'subscribing').waitFor();

  const missed = `missed ${tag}`;
  assert.equal((await server.publish(channel, { text: missed })).offset, 2);

  const secondClient = await connect(page);
  assert.notEqual(secondClient, firstClient);
  await subscriptionState(page, channel, 'subscribed').waitFor();
  const resubscribed = await waitForLog(page, 'subscribed', { channel, text: 'wasRecovering: true' });
  assert.equal(resubscribed, `recoverable: true, wasRecovering: true, recovered: true, offset 2, epoch "${epoch}"`);

  const recovered = parsePublication(await waitForLog(page, 'publication', { channel, text: missed }));
  assert.deepEqual(recovered, { offset: 2, data: { text: missed }, from: undefined });

  // A live publication after the recovered one: once it is in the log, a duplicate of the missed
  // one (or a redelivery of the one seen before disconnecting) would be there too.
  const after = `after ${tag}`;
  await server.publish(channel, { text: after });
  await waitForLog(page, 'publication', { channel, text: after });
  assert.equal(await logEntries(page, 'publication', { channel, text: missed }).count(), 1);
  assert.equal(await logEntries(page, 'publication', { channel, text: before }).count(), 1);
  assert.equal(await logEntries(page, 'publication', { channel }).count(), 3);
  assert.equal(await logEntries(page, 'error').count(), 0);

  assert.deepEqual(unexpectedProblems(problems), []);
  await context.close();
});
