import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, shutdown, openDemo, connect, subscribe, publishFromPage, waitForLog,
  logEntries, parsePublication, uniqueChannel, unexpectedProblems,
} from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await shutdown(browser, server); });

test('two pages on one demo: channel: a message from one appears in the other, with joins', async () => {
  const a = await openDemo(browser, server);
  const b = await openDemo(browser, server);
  const channel = uniqueChannel('chat');

  const idA = await connect(a.page);
  await subscribe(a.page, channel);
  const idB = await connect(b.page);
  await subscribe(b.page, channel);
  assert.notEqual(idA, idB);

  // A sees B join (after its own join).
  assert.equal(await waitForLog(a.page, 'join', { channel, text: idB }), `anonymous (client ${idB})`);

  // The newest subscription is the publish target.
  assert.equal(await a.page.locator('#target').inputValue(), channel);
  const text = `hello from A ${Math.random().toString(36).slice(2)}`;
  await publishFromPage(a.page, text);

  const received = parsePublication(await waitForLog(b.page, 'publication', { channel, text }));
  assert.equal(received.offset, 1);
  assert.equal(received.data.text, text);
  assert.ok(!Number.isNaN(Date.parse(received.data.at)), `"at" should be an ISO time: ${received.data.at}`);
  assert.equal(received.from, `anonymous (client ${idA})`);
  // The publisher gets its own publication too, and each page gets it exactly once.
  await waitForLog(a.page, 'publication', { channel, text });
  assert.equal(await logEntries(a.page, 'publication', { channel, text }).count(), 1);
  assert.equal(await logEntries(b.page, 'publication', { channel, text }).count(), 1);

  assert.deepEqual(unexpectedProblems(a.problems), []);
  assert.deepEqual(unexpectedProblems(b.problems), []);
  await a.context.close();
  await b.context.close();
});

test('a publication made through the server API appears in the log', async () => {
  const { page, context, problems } = await openDemo(browser, server);
  const channel = uniqueChannel('api');
  await connect(page);
  await subscribe(page, channel);

  const text = `via the API ${Math.random().toString(36).slice(2)}`;
  const result = await server.publish(channel, { text, n: 42 });
  assert.equal(result.offset, 1);

  const entry = parsePublication(await waitForLog(page, 'publication', { channel, text }));
  assert.deepEqual(entry, { offset: 1, data: { text, n: 42 }, from: undefined }); // no client info: the server published it

  assert.deepEqual(unexpectedProblems(problems), []);
  await context.close();
});
