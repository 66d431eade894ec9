import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, shutdown, openDemo, connect, subscribe, publishFromPage, waitForLog,
  logEntries, parsePublication, uniqueChannel,
} from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => { await shutdown(browser, server); });

// Some proxies refuse the WebSocket upgrade: the page's WebSocket to /connection/websocket goes
// to a path where the server answers the upgrade with 404, so the socket fails before it opens —
// what a browser sees behind such a proxy.
async function breakWebSockets(context) {
  await context.addInitScript(() => {
    const Real = window.WebSocket;
    window.WebSocket = class extends Real {
      constructor(url, protocols) {
        super(String(url).replace('/connection/websocket', '/connection/websocket-refused-by-proxy'), protocols);
      }
    };
  });
}

// And some also cut streamed fetch responses: the HTTP-streaming request fails outright.
async function breakHttpStreaming(context) {
  await context.route('**/connection/http_stream', (route) => route.abort('connectionreset'));
}

// The failures the test caused itself are expected; anything else is a problem.
const causedByTheTest = (problem) => /websocket-refused-by-proxy|\/connection\/http_stream|WebSocket connection to/.test(problem);

async function keepsWorking(page, problems, transport) {
  const id = await connect(page);
  assert.equal(await page.locator('#state-detail').textContent(), `via ${transport}`);
  const channel = uniqueChannel(`fallback-${transport}`);
  await subscribe(page, channel);

  // A publication from the server API arrives…
  const text = `over ${transport} ${Math.random().toString(36).slice(2)}`;
  await server.publish(channel, { text });
  const received = parsePublication(await waitForLog(page, 'publication', { channel, text }));
  assert.equal(received.offset, 1);
  assert.equal(received.data.text, text);

  // …and the page publishes through the emulation endpoint and gets its own message back once.
  const own = `from the page ${Math.random().toString(36).slice(2)}`;
  await publishFromPage(page, own);
  const back = parsePublication(await waitForLog(page, 'publication', { channel, text: own }));
  assert.equal(back.offset, 2);
  assert.equal(back.from, `anonymous (client ${id})`);
  assert.equal(await logEntries(page, 'publication', { channel, text: own }).count(), 1);
  assert.deepEqual(problems.filter((p) => !causedByTheTest(p)), []);
}

test('WebSocket blocked: the demo page falls back to HTTP-streaming and keeps working', async () => {
  const { page, context, problems } = await openDemo(browser, server, { prepare: breakWebSockets });
  await keepsWorking(page, problems, 'http_stream');
  await context.close();
});

test('WebSocket and HTTP-streaming blocked: the demo page falls back to SSE and keeps working', async () => {
  const { page, context, problems } = await openDemo(browser, server, {
    prepare: async (ctx) => { await breakWebSockets(ctx); await breakHttpStreaming(ctx); },
  });
  await keepsWorking(page, problems, 'sse');
  await context.close();
});
