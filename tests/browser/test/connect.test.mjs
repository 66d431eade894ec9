import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, shutdown, openDemo, connect, waitForState, waitForLog, logEntries,
  unexpectedProblems,
} from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await shutdown(browser, server); });

test('the page loads cleanly and Connect connects anonymously', async () => {
  const { page, problems } = await openDemo(browser, server);

  assert.equal(await page.title(), 'Switchboard demo');
  assert.equal(await page.locator('#endpoint').textContent(), `ws://127.0.0.1:${server.port}/connection/websocket (falls back to http_stream, then sse)`);
  await waitForState(page, 'disconnected');
  assert.equal(await page.locator('#connect').isEnabled(), true);
  assert.equal(await page.locator('#disconnect').isDisabled(), true);
  // Nothing to act on before a subscription exists.
  for (const id of ['target', 'publish', 'presence', 'presence-stats', 'history']) {
    assert.equal(await page.locator(`#${id}`).isDisabled(), true, `#${id} should be disabled`);
  }

  const clientId = await connect(page);
  assert.match(clientId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(await page.locator('#state').textContent(), 'connected');
  assert.equal(await page.locator('#state-detail').textContent(), 'via websocket');
  assert.equal(await page.locator('#connect').isDisabled(), true);
  assert.equal(await page.locator('#disconnect').isEnabled(), true);
  const connected = await waitForLog(page, 'connected');
  assert.match(connected, new RegExp(`client ${clientId} via websocket`));
  await waitForLog(page, 'state', { text: 'connecting → connected' });

  assert.deepEqual(unexpectedProblems(problems), []);
  assert.equal(await logEntries(page, 'error').count(), 0);
});

test('an invalid connection token shows the 3500 disconnect and the disconnected state', async () => {
  const { page, problems } = await openDemo(browser, server);

  await page.locator('#token').fill('not-a-valid-jwt');
  await page.locator('#connect').click();

  const disconnected = await waitForLog(page, 'disconnected', { text: 'code 3500' });
  assert.match(disconnected, /code 3500: invalid token/);
  await waitForState(page, 'disconnected');
  assert.equal(await page.locator('#state-detail').textContent(), '3500: invalid token');
  assert.equal(await page.locator('#client-id').textContent(), '');
  // It went through connecting, was refused and does not retry (3500 is a terminal code).
  await waitForLog(page, 'state', { text: 'connecting → disconnected' });
  assert.equal(await logEntries(page, 'connected').count(), 0);
  assert.equal(await page.locator('#connect').isEnabled(), true);
  assert.equal(await page.locator('#disconnect').isDisabled(), true);

  assert.deepEqual(unexpectedProblems(problems), []);
});

test('the page declares an icon, so browsers do not request a missing /favicon.ico', async () => {
  // A fresh browser: Chromium asks for the favicon once per browser, on the first page load.
  const fresh = await launchBrowser();
  try {
    const { page, problems } = await openDemo(fresh, server);
    const declaresIcon = await page.locator('link[rel~="icon"]').count() > 0;
    const served = (await fetch(`${server.url}/favicon.ico`)).status === 200;
    assert.ok(declaresIcon || served, 'no <link rel="icon"> in the page and no /favicon.ico on the server');
    assert.deepEqual(problems, []);
  } finally {
    await fresh.close();
  }
});
