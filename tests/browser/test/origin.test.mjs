// Cross-site WebSocket hijacking: a page of another origin (here a second tiny HTTP server on
// another loopback port) must not open a connection to Switchboard, while the demo page that
// Switchboard serves itself connects. A server that lists the other origin lets the same page in,
// so the refusal is the server's doing and not the page's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import {
  startServer, launchBrowser, shutdown, openDemo, connect, freePort, unexpectedProblems, WAIT_MS,
} from '../lib/harness.mjs';

let server;
let openServer;
let browser;
let foreign;
let foreignPort;

// A page that tries to open a WebSocket to the URL in its query and reports what happened.
const foreignPage = `<!doctype html><title>elsewhere</title><script>
  const target = new URLSearchParams(location.search).get('ws');
  const ws = new WebSocket(target);
  window.outcome = new Promise((resolve) => {
    ws.onopen = () => { ws.send(JSON.stringify({ id: 1, connect: {} })); };
    ws.onmessage = (e) => { resolve('connected: ' + e.data); ws.close(); };
    ws.onclose = (e) => resolve('closed ' + e.code);
  });
</script>`;

before(async () => {
  foreignPort = await freePort();
  foreign = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(foreignPage);
  });
  await new Promise((resolve) => foreign.listen(foreignPort, '127.0.0.1', resolve));
  server = await startServer();
  openServer = await startServer({ Switchboard__Client__AllowedOrigins__0: `http://127.0.0.1:${foreignPort}` });
  browser = await launchBrowser();
});

after(async () => {
  try {
    await shutdown(browser, server);
    await openServer?.stop();
  } finally {
    await new Promise((resolve) => foreign?.close(resolve) ?? resolve());
  }
});

async function tryFromForeignPage(target) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const console = [];
  page.on('console', (msg) => console.push(msg.text()));
  await page.goto(`http://127.0.0.1:${foreignPort}/?ws=${encodeURIComponent(target.wsUrl)}`);
  const outcome = await page.evaluate(() => window.outcome);
  await context.close();
  return { outcome, console };
}

test('a page served from another origin cannot connect', async () => {
  const { outcome, console } = await tryFromForeignPage(server);
  // The upgrade was refused (403), so no WebSocket ever opened: the browser reports 1006.
  assert.equal(outcome, 'closed 1006');
  assert.ok(console.some((line) => line.includes('403')), `expected the browser to report the 403, got: ${console.join(' | ')}`);
  const info = await server.api('info', {});
  assert.equal(info.result.nodes[0].num_clients ?? 0, 0);
});

test('the same page connects to a server that allows its origin', async () => {
  const { outcome } = await tryFromForeignPage(openServer);
  assert.match(outcome, /^connected: .*"connect":/);
});

test('the demo page served by Switchboard itself connects', async () => {
  const { page, problems } = await openDemo(browser, server);
  await connect(page);
  assert.deepEqual(unexpectedProblems(problems).filter((p) => !p.includes('favicon')), []);
});
