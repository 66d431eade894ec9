import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, shutdown, openDemo, connect, subscribe, publishFromPage, waitForLog,
  uniqueChannel, unexpectedProblems,
} from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await shutdown(browser, server); });

/** Clicks a query button and waits for the result titled `title` (a regular expression). */
async function runQuery(page, button, title) {
  await page.locator(`#${button}`).click();
  const heading = page.locator('#result h3', { hasText: title });
  await heading.waitFor();
  return heading.textContent();
}

test('Presence and Presence stats show who is in the channel', async () => {
  const a = await openDemo(browser, server);
  const b = await openDemo(browser, server);
  const channel = uniqueChannel('presence');
  const idA = await connect(a.page);
  await subscribe(a.page, channel);
  const idB = await connect(b.page);
  await subscribe(b.page, channel);

  assert.equal(await runQuery(a.page, 'presence-stats', /^Presence stats of /), `Presence stats of ${channel}`);
  assert.equal(await a.page.locator('#result [data-testid="num-clients"]').textContent(), '2');
  // Both are anonymous: the same (empty) user.
  assert.equal(await a.page.locator('#result [data-testid="num-users"]').textContent(), '1');
  assert.deepEqual((await server.api('presence_stats', { channel })).result, { num_clients: 2, num_users: 1 });

  assert.equal(await runQuery(a.page, 'presence', /^Presence in /), `Presence in ${channel}: 2 client(s)`);
  const rows = (await a.page.locator('#result li').allTextContents()).sort();
  assert.deepEqual(rows, [`anonymous client ${idA}`, `anonymous client ${idB}`].sort());

  // B leaves: once A has seen the leave, the numbers drop.
  await b.page.locator(`[data-testid="subscription"][data-channel="${channel}"] [data-testid="unsubscribe"]`).click();
  await b.page.locator(`[data-testid="subscription"][data-channel="${channel}"]`).waitFor({ state: 'detached' });
  assert.equal(await waitForLog(a.page, 'leave', { channel }), `anonymous (client ${idB})`);
  await runQuery(a.page, 'presence', `Presence in ${channel}: 1 client(s)`);
  assert.deepEqual(await a.page.locator('#result li').allTextContents(), [`anonymous client ${idA}`]);
  await a.page.locator('#presence-stats').click();
  await a.page.locator('#result [data-testid="num-clients"]', { hasText: /^1$/ }).waitFor();
  assert.equal(await a.page.locator('#result [data-testid="num-users"]').textContent(), '1');
  assert.equal(await a.page.locator('#result [data-testid="result-error"]').count(), 0);

  assert.deepEqual(unexpectedProblems(a.problems), []);
  assert.deepEqual(unexpectedProblems(b.problems), []);
  await a.context.close();
  await b.context.close();
});

test('History lists the channel publications, newest first', async () => {
  const { page, context, problems } = await openDemo(browser, server);
  const channel = uniqueChannel('history');
  const tag = Math.random().toString(36).slice(2);
  const clientId = await connect(page);
  await subscribe(page, channel);

  await publishFromPage(page, `first ${tag}`);
  await publishFromPage(page, `second ${tag}`);
  await server.publish(channel, { text: `third ${tag}` });
  await waitForLog(page, 'publication', { channel, text: `third ${tag}` });

  const title = await runQuery(page, 'history', /^History of /);
  assert.equal(title, `History of ${channel}: 3 publication(s), newest first`);
  const api = (await server.api('history', { channel, limit: -1 })).result;
  assert.equal(await page.locator('#result p.muted').textContent(), `Stream top offset 3, epoch "${api.epoch}"`);

  const items = await page.locator('#result ol li').allTextContents();
  assert.equal(items.length, 3);
  const parsed = items.map((item) => /^#(\d+) (\{.*\})(?: from (.*))?$/.exec(item));
  assert.deepEqual(parsed.map((m) => Number(m[1])), [3, 2, 1]);
  assert.deepEqual(parsed.map((m) => JSON.parse(m[2]).text), [`third ${tag}`, `second ${tag}`, `first ${tag}`]);
  assert.deepEqual(parsed.map((m) => m[3]), [undefined, `anonymous (client ${clientId})`, `anonymous (client ${clientId})`]);

  assert.deepEqual(unexpectedProblems(problems), []);
  await context.close();
});
