// The demo page signs in through the built-in OAuth server: authorization code with PKCE as the
// public client `switchboard-demo`, the page's own URL as redirect URI (seeded from the server's
// listening address), sign-up on the server's page, and back with an access token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, shutdown, openDemo, waitForLog, unexpectedProblems, connect, subscribe, uniqueChannel, parsePublication, publishFromPage } from '../lib/harness.mjs';

let server;
let browser;
let dataDir;
before(async () => {
  // A database of its own, so the demo client is seeded for this server's address.
  dataDir = await mkdtemp(path.join(tmpdir(), 'switchboard-browser-identity-'));
  server = await startServer({ Switchboard__Database__ConnectionString: `Data Source=${path.join(dataDir, 'switchboard.db')}` });
  browser = await launchBrowser();
});
after(async () => {
  await shutdown(browser, server);
  await rm(dataDir, { recursive: true, force: true });
});

const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

async function signUpFromDemo(page, userName, password) {
  await page.locator('#sign-in').click();
  await page.waitForURL(/\/identity\/signin\?/);
  await page.getByRole('link', { name: 'Sign up' }).click();
  await page.waitForURL(/\/identity\/signup\?/);
  await page.locator('#UserName').fill(userName);
  await page.locator('#Password').fill(password);
  await page.getByRole('button', { name: 'Sign up' }).click();
}

test('a user signs up from the demo page, connects with the access token and receives publications as that user', async () => {
  const { page, problems } = await openDemo(browser, server);
  await page.locator('#sign-in').waitFor({ state: 'visible' });
  const userName = `alice-${Date.now()}`;

  await signUpFromDemo(page, userName, 'correct horse battery');

  await page.waitForURL(`${server.url}/`);
  await page.locator('#user', { hasText: `signed in as ${userName}` }).waitFor();
  await waitForLog(page, 'state', { text: `signed in as ${userName}` });
  const token = await page.locator('#token').inputValue();
  const claims = payloadOf(token);
  assert.ok(claims.sub, 'the access token names the user');
  assert.equal(claims.preferred_username, userName);
  assert.ok([].concat(claims.aud).includes('switchboard'), `audience ${claims.aud}`);
  assert.equal(claims.iss, `${server.url}/`);
  // The code and state are gone from the address bar.
  assert.equal(new URL(page.url()).search, '');

  // Connect uses the access token: the connection is the user's, and publications arrive.
  await connect(page);
  const channel = uniqueChannel('signed-in');
  await subscribe(page, channel);
  const text = `hello ${userName}`;
  await server.publish(channel, { text });
  assert.deepEqual(parsePublication(await waitForLog(page, 'publication', { channel, text })).data, { text });
  const own = `from the page ${Math.random().toString(36).slice(2)}`;
  await publishFromPage(page, own);
  const entry = parsePublication(await waitForLog(page, 'publication', { channel, text: own }));
  assert.match(entry.from, new RegExp(`^user "${claims.sub}" \\(client `), 'the page publishes as the signed-in user');
  assert.deepEqual(unexpectedProblems(problems), []);
});

test('after signing out, signing in asks for the password again', async () => {
  const { page } = await openDemo(browser, server);
  const userName = `bob-${Date.now()}`;
  await signUpFromDemo(page, userName, 'correct horse battery');
  await page.locator('#user', { hasText: `signed in as ${userName}` }).waitFor();

  await page.locator('#sign-out').click();
  await page.locator('#sign-in').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#user').textContent(), '');
  assert.equal(await page.locator('#token').inputValue(), '');

  await page.locator('#sign-in').click();
  await page.waitForURL(/\/identity\/signin\?/);
  await page.locator('#UserName').fill(userName);
  await page.locator('#Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#user', { hasText: `signed in as ${userName}` }).waitFor();
});
