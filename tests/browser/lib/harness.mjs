// Starts a real Switchboard server process on a free loopback port (stopping exactly that process)
// and drives the demo page it serves in a real headless Chromium through playwright-core.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServerProcess } from '../../node/server-process.mjs';

export { serverDll, freePort } from '../../node/server-process.mjs';

/** Chromium from the distribution's package (Debian: `chromium`); override with CHROMIUM_PATH. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const API_KEY = 'browser-test-api-key-0123456789';

/** How long a wait for page state may take before the test fails (ms). */
export const WAIT_MS = 15000;

// Only the API key (and an instant drain) is added: everything else is the shipped appsettings.json (anonymous
// connections, the `demo` namespace open to anonymous clients with history, recovery, presence
// and join/leave), which is what the demo page is meant to be used with.
const testConfig = {
  Switchboard__Api__Key: API_KEY,
  // Stopping a test server need not spread its goodbyes; the drain test sets its own window.
  Switchboard__Drain__Window: '00:00:00',
};

/** Starts a server; `extraEnv` adds or overrides configuration. */
export async function startServer(extraEnv = {}) {
  const server = await startServerProcess({ ...testConfig, ...extraEnv }, API_KEY);
  return Object.assign(server, {
    /** Publishes through the server API; returns the result; fails on an API error. */
    async publish(channel, data) {
      const reply = await this.api('publish', { channel, data });
      if (reply.error) throw new Error(`publish to ${channel} failed: ${JSON.stringify(reply.error)}`);
      return reply.result;
    },
  });
}

/** Launches headless Chromium (the distribution's build; nothing is downloaded). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Closes the browser and stops the server; each step runs even if the other fails. */
export async function shutdown(browser, server) {
  try {
    await browser?.close();
  } finally {
    await server?.stop();
  }
}

/**
 * Opens the demo page in a fresh browser context (its own cookies and storage, like a second
 * window of another user) and waits until its script has run. The returned `problems` lists
 * console errors, uncaught page errors, failed requests and HTTP error responses seen so far.
 */
export async function openDemo(browser, server, { prepare } = {}) {
  const context = await browser.newContext();
  // A test may shape the network first (e.g. break WebSockets as some proxies do).
  await prepare?.(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  await page.goto(`${server.url}/`);
  // app.js fills in the endpoint as it starts; once it is there, the buttons have their handlers.
  await page.waitForFunction(() => document.getElementById('endpoint')?.textContent.includes('/connection/websocket'));
  return { page, context, problems };
}

/** The `#log` entries of `kind` (optionally on `channel`, optionally containing `text`). */
export function logEntries(page, kind, { channel, text } = {}) {
  const selector = `#log li[data-kind="${kind}"]${channel !== undefined ? `[data-channel="${channel}"]` : ''}`;
  return page.locator(selector, text !== undefined ? { hasText: text } : {});
}

/**
 * Waits for the newest `#log` entry matching `kind`/`channel`/`text`; returns its message (the
 * entry's text without its time, kind and channel).
 */
export async function waitForLog(page, kind, filter = {}) {
  const entry = logEntries(page, kind, filter).first();
  await entry.waitFor();
  return entry.locator('.text').textContent();
}

/** Splits a publication's log message `#<offset> <json data>[ from <who>]`. */
export function parsePublication(message) {
  const match = /^(?:#(\d+) )?(\{.*\})(?: from (.*))?$/.exec(message);
  assert.ok(match, `not a publication message: ${message}`);
  return { offset: match[1] === undefined ? undefined : Number(match[1]), data: JSON.parse(match[2]), from: match[3] };
}

/** Waits until the connection badge shows `state`. */
export async function waitForState(page, state) {
  await page.locator(`#state[data-state="${state}"]`).waitFor();
}

/** Clicks Connect and waits for `connected`; returns the client id the page shows. */
export async function connect(page) {
  await page.locator('#connect').click();
  await waitForState(page, 'connected');
  await page.waitForFunction(() => /^client \S+$/.test(document.getElementById('client-id').textContent));
  return (await page.locator('#client-id').textContent()).replace(/^client /, '');
}

/** Subscribes to `channel` through the form and waits until its row shows `subscribed`. */
export async function subscribe(page, channel) {
  await page.locator('#channel').fill(channel);
  await page.locator('#subscribe').click();
  await subscriptionState(page, channel, 'subscribed').waitFor();
}

/** The state badge of the subscription row of `channel`, when it shows `state`. */
export function subscriptionState(page, channel, state) {
  return page.locator(
    `#subscriptions [data-testid="subscription"][data-channel="${channel}"] [data-testid="subscription-state"][data-state="${state}"]`);
}

/** Publishes `text` from the page to the selected subscription; waits until the input is cleared (publish acknowledged). */
export async function publishFromPage(page, text) {
  await page.locator('#publish-text').fill(text);
  await page.locator('#publish').click();
  await page.waitForFunction(() => document.getElementById('publish-text').value === '');
  const error = await page.locator('#publish-error').textContent();
  if (error) throw new Error(`publish from the page failed: ${error}`);
}

/** A `demo:` channel name no other test uses. */
export function uniqueChannel(prefix) {
  return `demo:${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The problems a page reported (console errors, page errors, failed or 4xx/5xx requests). */
export const unexpectedProblems = (problems) => problems;
