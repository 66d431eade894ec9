// Starts a real Switchboard server process on a free loopback port and stops exactly that process.
import { createHmac } from 'node:crypto';
import { Centrifuge as JsonCentrifuge } from 'centrifuge';
import { Centrifuge as ProtobufCentrifuge, Subscription as ProtobufSubscription } from 'centrifuge/build/protobuf';
import protobuf from 'protobufjs';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { startServerProcess } from '../../node/server-process.mjs';

export { serverDll, freePort } from '../../node/server-process.mjs';

/**
 * The transport the whole suite runs over (`SWITCHBOARD_COMPAT_TRANSPORT`): `websocket` (JSON,
 * the default), `protobuf` (WebSocket with the Protobuf protocol), `http_stream` or `sse` (both
 * with bidirectional emulation). Every test runs unchanged over each of them.
 */
export const TRANSPORT = process.env.SWITCHBOARD_COMPAT_TRANSPORT ?? 'websocket';
if (!['websocket', 'protobuf', 'http_stream', 'sse'].includes(TRANSPORT)) {
  throw new Error(`unknown SWITCHBOARD_COMPAT_TRANSPORT '${TRANSPORT}'`);
}

/** The transport name the client reports in its `connected` context. */
export const TRANSPORT_NAME = TRANSPORT === 'protobuf' ? 'websocket' : TRANSPORT;

const Centrifuge = TRANSPORT === 'protobuf' ? ProtobufCentrifuge : JsonCentrifuge;

/** The endpoint and the transport options of a client of `server` on the suite's transport. */
function transportOf(server) {
  switch (TRANSPORT) {
    case 'http_stream':
      return {
        endpoint: [{ transport: 'http_stream', endpoint: `${server.url}/connection/http_stream` }],
        options: { emulationEndpoint: `${server.url}/emulation` },
      };
    case 'sse':
      return {
        endpoint: [{ transport: 'sse', endpoint: `${server.url}/connection/sse` }],
        options: { emulationEndpoint: `${server.url}/emulation`, eventsource: EventSource },
      };
    default:
      return { endpoint: server.wsUrl, options: { websocket: WebSocket } };
  }
}

export const API_KEY = 'compat-test-api-key-0123456789';
export const SECRET = 'compat-test-hmac-secret-0123456789-abcdef';

// Namespaces the compatibility tests use, on top of the default `demo` namespace.
const testConfig = {
  Switchboard__Api__Key: API_KEY,
  // Stopping a test server need not spread its goodbyes; the drain test sets its own window.
  Switchboard__Drain__Window: '00:00:00',
  Switchboard__Token__HmacSecretKey: SECRET,
  Switchboard__Client__AllowAnonymousConnectWithoutToken: 'true',
  // Short grace so an unrefreshed connection is closed promptly; the refresh test relies on the client refreshing first.
  Switchboard__Client__ExpiredCloseDelay: '00:00:01',
  Switchboard__Namespaces__chat__Presence: 'true',
  Switchboard__Namespaces__chat__JoinLeave: 'true',
  Switchboard__Namespaces__chat__HistorySize: '1000',
  Switchboard__Namespaces__chat__HistoryTtl: '00:10:00',
  Switchboard__Namespaces__chat__ForceRecovery: 'true',
  Switchboard__Namespaces__chat__AllowSubscribeForClient: 'true',
  Switchboard__Namespaces__chat__AllowPublishForSubscriber: 'true',
  Switchboard__Namespaces__chat__AllowHistoryForSubscriber: 'true',
  Switchboard__Namespaces__chat__AllowPresenceForSubscriber: 'true',
  Switchboard__Namespaces__secret__HistorySize: '100',
  Switchboard__Namespaces__secret__HistoryTtl: '00:10:00',
  Switchboard__Namespaces__secret__ForceRecovery: 'true',
};

/** Starts a server; `extraEnv` adds or overrides configuration. */
export async function startServer(extraEnv = {}) {
  const server = await startServerProcess({ ...testConfig, ...extraEnv }, API_KEY);
  return Object.assign(server, {
    /** Clients made by `client()` since the last `disconnectAll()`. */
    clients: [],
    /** A centrifuge client for this server (not yet connected). */
    client(options = {}) {
      const transport = transportOf(this);
      const client = new Centrifuge(transport.endpoint, { ...transport.options, minReconnectDelay: 100, maxReconnectDelay: 500, ...options });
      this.clients.push(client);
      return client;
    },
    /** Makes a client, connects it and resolves with it once `connected` (its context in `client.connectedCtx`). */
    async connect(options = {}) {
      const client = this.client(options);
      const connected = once(client, 'connected');
      client.connect();
      client.connectedCtx = await connected;
      return client;
    },
    /** Disconnects every client made by `client()`: call it after each test. */
    disconnectAll() {
      for (const client of this.clients.splice(0)) client.disconnect();
    },
  });
}

function b64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** Signs an HS256 JWT with the test secret (or another). */
export function token(claims, secret = SECRET) {
  const header = b64url({ alg: 'HS256', typ: 'JWT' });
  const payload = b64url(claims);
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

export const now = () => Math.floor(Date.now() / 1000);

/** Resolves with the first event `name` emitted by `emitter` (with a timeout). */
export function once(emitter, name, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${name}'`)), timeoutMs);
    emitter.once(name, (ctx) => {
      clearTimeout(timer);
      resolve(ctx);
    });
  });
}

/** Collects events `name` from `emitter`; `waitFor(n)` resolves when n have arrived. */
export function collect(emitter, name) {
  const items = [];
  let waiters = [];
  emitter.on(name, (ctx) => {
    items.push(ctx);
    waiters = waiters.filter((w) => {
      if (items.length >= w.n) { clearTimeout(w.timer); w.resolve(items); return false; }
      return true;
    });
  });
  return {
    items,
    waitFor(n, timeoutMs = 10000) {
      if (items.length >= n) return Promise.resolve(items);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} '${name}' events, got ${items.length}`)), timeoutMs);
        waiters.push({ n, resolve, timer });
      });
    },
  };
}

/** Resolves with the first event `name` whose context satisfies `predicate` (with a timeout). */
export function onceWhere(emitter, name, predicate, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const listener = (ctx) => {
      if (!predicate(ctx)) return;
      clearTimeout(timer);
      emitter.off(name, listener);
      resolve(ctx);
    };
    const timer = setTimeout(() => {
      emitter.off(name, listener);
      reject(new Error(`timed out waiting for a matching '${name}'`));
    }, timeoutMs);
    emitter.on(name, listener);
  });
}

/** A channel name no other test uses: `<prefix>-<random>`. */
export function uniqueChannel(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A user id no other test uses. */
export function uniqueUser(prefix = 'user') {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A connection token for `user` valid for an hour, with extra claims. */
export function userToken(user, claims = {}) {
  return token({ sub: user, exp: now() + 3600, ...claims });
}

/**
 * Makes a client-side subscription and resolves once it is subscribed:
 * `{ sub, ctx, pubs }`, where `pubs` collects its publications from the very start.
 */
export async function subscribe(client, channel, options = {}) {
  const sub = client.newSubscription(channel, options);
  const pubs = collect(sub, 'publication');
  const subscribed = once(sub, 'subscribed');
  sub.subscribe();
  const ctx = await subscribed;
  return { sub, ctx, pubs };
}

/** Resolves with the error a promise rejects with; fails when it resolves. */
export async function rejection(promise) {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('expected a rejection')) throw error;
    return error;
  }
}

/** A promise with its resolve function exposed (a gate a test opens when it is ready). */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/**
 * A WebSocket class that counts the transports a client opens: pass `ws.WebSocket` as the
 * client's `websocket` option and read `ws.opened`.
 */
export function countingWebSocket() {
  const counter = { opened: 0 };
  counter.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      counter.opened += 1;
    }
  };
  return counter;
}

/** Publishes through the server API and returns the result; fails on an API error. */
export async function publish(server, channel, data, extra = {}) {
  const reply = await server.api('publish', { channel, data, ...extra });
  if (reply.error) throw new Error(`publish to ${channel} failed: ${JSON.stringify(reply.error)}`);
  return reply.result;
}

/**
 * A WebSocket class that records every message the server sends, parsed, in arrival order:
 * pass `rec.WebSocket` as the client's `websocket` option and read `rec.messages`
 * (`{ connection, message }`, `connection` numbering the transports the client opened).
 */
export function frameRecorder() {
  const rec = { messages: [], connections: 0 };
  rec.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      rec.connections += 1;
      const connection = rec.connections;
      this.addEventListener('message', (event) => {
        for (const message of serverMessages(event.data)) rec.messages.push({ connection, message });
      });
    }
  };
  return rec;
}

/**
 * The offsets of the publications of `channel` in the order the server sent them: live pushes,
 * and the publications carried by subscribe replies (all subscribe replies are taken to be for
 * `channel`, so use it with a client subscribed to that one channel) and connect replies.
 */
export function wireOffsets(rec, channel) {
  const offsets = [];
  for (const { message } of rec.messages) {
    if (message.push?.pub && message.push.channel === channel) offsets.push(message.push.pub.offset ?? 0);
    for (const pub of message.subscribe?.publications ?? []) offsets.push(pub.offset ?? 0);
    for (const pub of message.connect?.subs?.[channel]?.publications ?? []) offsets.push(pub.offset ?? 0);
  }
  return offsets;
}

// ---------------------------------------------------------------------------------------------
// Protobuf transport (SWITCHBOARD_COMPAT_TRANSPORT=protobuf). Switchboard's channels carry JSON
// values; over Protobuf every data field (`data`, `connInfo`, `chanInfo`) is bytes: the value's
// JSON in UTF-8, and offsets are 64-bit (`Long` objects in protobufjs). A Protobuf user encodes
// and decodes them; the helpers below do exactly that at the client's boundary, so every test
// asserts the same values on every transport. They are the identity on the JSON transports.

/** The bytes a Protobuf client sends for a JSON value (the value itself on JSON transports). */
export function encodeData(value) {
  // Bytes pass through: Subscription.publish hands its (already encoded) data to Centrifuge.publish.
  if (TRANSPORT !== 'protobuf' || value === undefined || value === null || value instanceof Uint8Array) return value;
  return new TextEncoder().encode(JSON.stringify(value));
}

/** A JSON value from the bytes a Protobuf client received (the value itself on JSON transports). */
export function decodeData(data) {
  if (!(data instanceof Uint8Array)) return data;
  return data.length === 0 ? undefined : JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
}

// A deep copy with bytes decoded as JSON and Long offsets as numbers; other objects (errors,
// clients, subscriptions) are left as they are.
function plainValues(value) {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return decodeData(value);
  if (value.__isLong__ === true) return value.toNumber();
  if (Array.isArray(value)) return value.map(plainValues);
  if (value instanceof Error || value instanceof ProtobufCentrifuge || value instanceof ProtobufSubscription) return value;
  const copy = {};
  for (const [key, item] of Object.entries(value)) copy[key] = plainValues(item);
  return copy;
}

// The Protobuf client's methods take data as bytes and give results and event contexts with bytes
// and Longs: wrap them once so tests see the JSON values on this transport too.
function adaptProtobufClient() {
  const wrap = (proto, name, dataIndex) => {
    const original = proto[name];
    proto[name] = function (...args) {
      if (dataIndex !== undefined && args.length > dataIndex) args[dataIndex] = encodeData(args[dataIndex]);
      return original.apply(this, args).then(plainValues);
    };
  };
  for (const proto of [ProtobufCentrifuge.prototype, ProtobufSubscription.prototype]) {
    const emit = proto.emit;
    proto.emit = function (name, ...args) {
      return emit.call(this, name, ...args.map(plainValues));
    };
  }
  wrap(ProtobufCentrifuge.prototype, 'publish', 1);
  wrap(ProtobufCentrifuge.prototype, 'rpc', 1);
  wrap(ProtobufCentrifuge.prototype, 'send', 0);
  wrap(ProtobufCentrifuge.prototype, 'history');
  wrap(ProtobufCentrifuge.prototype, 'presence');
  wrap(ProtobufCentrifuge.prototype, 'presenceStats');
  wrap(ProtobufSubscription.prototype, 'publish', 0);
  wrap(ProtobufSubscription.prototype, 'history');
  wrap(ProtobufSubscription.prototype, 'presence');
  wrap(ProtobufSubscription.prototype, 'presenceStats');
}
if (TRANSPORT === 'protobuf') adaptProtobufClient();

// The server → client messages of the Protobuf protocol, as far as the tests read them
// (field numbers of client.proto; unknown fields are skipped by protobufjs).
const replyType = protobuf.parse(`
  syntax = "proto3";
  message Error { uint32 code = 1; string message = 2; bool temporary = 3; }
  message ClientInfo { string user = 1; string client = 2; bytes conn_info = 3; bytes chan_info = 4; }
  message Publication { bytes data = 4; ClientInfo info = 5; uint64 offset = 6; map<string, string> tags = 7; int64 time = 9; }
  message SubscribeResult { bool expires = 1; uint32 ttl = 2; bool recoverable = 3; string epoch = 6; repeated Publication publications = 7;
    bool recovered = 8; uint64 offset = 9; bool positioned = 10; bytes data = 11; bool was_recovering = 12; }
  message ConnectResult { string client = 1; string version = 2; bool expires = 3; uint32 ttl = 4; bytes data = 5;
    map<string, SubscribeResult> subs = 6; uint32 ping = 7; bool pong = 8; string session = 9; string node = 10; }
  message Connect { string client = 1; string version = 2; bytes data = 3; map<string, SubscribeResult> subs = 4;
    bool expires = 5; uint32 ttl = 6; uint32 ping = 7; bool pong = 8; }
  message Subscribe { bool recoverable = 1; string epoch = 4; uint64 offset = 5; bool positioned = 6; bytes data = 7; }
  message Unsubscribe { uint32 code = 2; string reason = 3; }
  message Disconnect { uint32 code = 1; string reason = 2; bool reconnect = 3; }
  message Join { ClientInfo info = 1; }
  message Leave { ClientInfo info = 1; }
  message Message { bytes data = 1; }
  message Push { string channel = 2; Publication pub = 4; Join join = 5; Leave leave = 6; Unsubscribe unsubscribe = 7;
    Message message = 8; Subscribe subscribe = 9; Connect connect = 10; Disconnect disconnect = 11; }
  message HistoryResult { repeated Publication publications = 1; string epoch = 2; uint64 offset = 3; }
  message Reply { uint32 id = 1; Error error = 2; Push push = 4; ConnectResult connect = 5; SubscribeResult subscribe = 6;
    HistoryResult history = 11; }
`, { keepCase: true }).root.lookupType('Reply');

/**
 * The messages of one WebSocket message from the server, as plain objects shaped like the JSON
 * protocol's (`{}` for a ping): newline-separated JSON, or length-prefixed Protobuf replies.
 */
export function serverMessages(data) {
  if (TRANSPORT !== 'protobuf') {
    return data.toString().split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
  }
  const reader = protobuf.Reader.create(new Uint8Array(Buffer.from(data)));
  const messages = [];
  while (reader.pos < reader.len) {
    const message = replyType.decodeDelimited(reader);
    messages.push(plainValues(replyType.toObject(message, { longs: Number })));
  }
  return messages;
}

// ---- Watching the emulated transports (HTTP-streaming, SSE) ----------------------------------
// The counterparts of countingWebSocket/frameRecorder for a client whose transport is not a
// WebSocket: tests take `options` from countingTransport()/transportRecorder() and so assert the
// same facts over every transport.

/** True when the suite runs over a transport with bidirectional emulation (`http_stream`, `sse`). */
export const EMULATED = TRANSPORT === 'http_stream' || TRANSPORT === 'sse';

/**
 * Client options that make an emulated transport report each connection the client opens
 * (`onOpen()`, whose return value names the connection) and each message the server sends on it,
 * in wire order (`onMessage(text, connection)`): a `fetch` that tees the HTTP-streaming response
 * (emulation requests pass through untouched), or an EventSource class for SSE.
 */
export function emulatedTransportTap({ onOpen = () => undefined, onMessage = () => {} } = {}) {
  if (TRANSPORT === 'sse') {
    return {
      eventsource: class extends EventSource {
        constructor(...args) {
          super(...args);
          const connection = onOpen();
          this.addEventListener('message', (event) => onMessage(event.data, connection));
        }
      },
    };
  }
  return {
    fetch: async (url, init) => {
      if (!String(url).includes('/connection/http_stream')) return fetch(url, init);
      const connection = onOpen();
      const response = await fetch(url, init);
      if (!response.body) return response;
      const [tapped, passed] = response.body.tee();
      (async () => {
        const decoder = new TextDecoder();
        let buffered = '';
        for await (const chunk of tapped) {
          buffered += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = buffered.indexOf('\n')) >= 0) {
            onMessage(buffered.slice(0, end), connection);
            buffered = buffered.slice(end + 1);
          }
        }
      })().catch(() => { /* the client aborted the stream */ });
      return new Response(passed, { status: response.status, statusText: response.statusText, headers: response.headers });
    },
  };
}

/**
 * Counts the transports a client opens, on any transport: pass `...counter.options` to the
 * client and read `counter.opened`.
 */
export function countingTransport() {
  if (!EMULATED) {
    const ws = countingWebSocket();
    return Object.assign(ws, { options: { websocket: ws.WebSocket } });
  }
  const counter = { opened: 0 };
  counter.options = emulatedTransportTap({ onOpen: () => { counter.opened += 1; } });
  return counter;
}

/**
 * Records every message the server sends, on any transport (see frameRecorder): pass
 * `...rec.options` to the client and read `rec.messages` and `rec.connections`.
 */
export function transportRecorder() {
  if (!EMULATED) {
    const rec = frameRecorder();
    return Object.assign(rec, { options: { websocket: rec.WebSocket } });
  }
  const rec = { messages: [], connections: 0 };
  rec.options = emulatedTransportTap({
    onOpen: () => { rec.connections += 1; return rec.connections; },
    onMessage: (text, connection) => {
      if (text.trim() !== '') rec.messages.push({ connection, message: JSON.parse(text) });
    },
  });
  return rec;
}
