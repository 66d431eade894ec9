import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer, launchBrowser, shutdown, uniqueChannel, WAIT_MS } from '../lib/harness.mjs';

const SECRET = 'browser-test-hmac-secret-0123456789-abcdef';

let server;
let browser;
before(async () => {
  server = await startServer({ Switchboard__Token__HmacSecretKey: SECRET });
  browser = await launchBrowser();
});
after(async () => { await shutdown(browser, server); });

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function token(claims) {
  const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

test('a plain EventSource page on uni_sse receives the publications of its token\'s channels', async () => {
  const channel = uniqueChannel('live');
  const jwt = token({ sub: 'viewer', exp: Math.floor(Date.now() / 1000) + 3600, channels: [channel] });
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${server.url}/live.html?token=${encodeURIComponent(jwt)}`);
  await page.locator('#state[data-state="connected"]').waitFor();

  for (let i = 1; i <= 3; i++) await server.publish(channel, { n: i });
  const items = page.locator('#feed li');
  await items.nth(2).waitFor();
  assert.deepEqual(await items.allTextContents(), [1, 2, 3].map((n) => `${channel} #${n} {"n":${n}}`));
  assert.deepEqual(errors, []);
  await context.close();
});
