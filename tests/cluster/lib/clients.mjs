// The two kinds of subscriber the cluster tests use, both recording what the server sent them on
// the wire, so a test can check each channel's stream exactly as it arrived:
// - centrifuge: the real `centrifuge` npm client (its reconnects, recovery, backoff), with a
//   WebSocket class that taps every frame;
// - raw: a small client speaking the JSON protocol over `ws` directly, which reconnects and
//   recovers the way the protocol says (recover + epoch + offset; resubscribe on unsubscribe
//   push codes >= 2500), so what it measures is the server's doing and not an SDK's backoff.
import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { SECRET } from './cluster.mjs';

function b64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** An HS256 JWT signed with the cluster tests' secret. */
export function token(claims) {
  const header = b64url({ alg: 'HS256', typ: 'JWT' });
  const payload = b64url(claims);
  const signature = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** A connection token for `user`, valid for an hour. */
export const userToken = (user, claims = {}) => token({ sub: user, exp: Math.floor(Date.now() / 1000) + 3600, ...claims });

/**
 * Everything a client's transports carried, per channel and in arrival order:
 * `{ kind: 'sub', wasRecovering, recovered, epoch, offset, count, conn, at }` for subscribe replies
 * and subscribe pushes (count = publications the reply carried, which follow it as 'pub'),
 * `{ kind: 'pub', offset, data, conn, at }`, `{ kind: 'unsub', code, reason, conn, at }`.
 * `nodes[conn - 1]` is the node that answered the connect of transport `conn`.
 */
export class WireTap {
  constructor() {
    this.conn = 0;
    this.nodes = [];
    this.opened = []; // when each transport was created (the reconnect attempt began)
    this.channels = new Map();
    this.pendingSubscribes = new Map(); // command id → channel (per connection)
    this.closes = []; // { conn, code, reason, at }
  }

  log(channel) {
    let entries = this.channels.get(channel);
    if (!entries) {
      entries = [];
      this.channels.set(channel, entries);
    }
    return entries;
  }

  newConnection() {
    this.conn += 1;
    this.nodes.push(null);
    this.opened.push(Date.now());
    this.pendingSubscribes.clear();
  }

  onSend(text) {
    for (const line of text.split('\n')) {
      if (!line.includes('"subscribe"')) continue;
      const command = JSON.parse(line);
      if (command.subscribe) this.pendingSubscribes.set(command.id, command.subscribe.channel);
    }
  }

  onMessage(text) {
    const at = Date.now();
    for (const line of text.split('\n')) {
      if (line.trim() === '' || line === '{}') continue;
      const message = JSON.parse(line);
      if (message.connect) {
        this.nodes[this.conn - 1] = message.connect.node ?? null;
        for (const [channel, result] of Object.entries(message.connect.subs ?? {})) this.subscribed(channel, result, at);
      } else if (message.subscribe && message.id) {
        const channel = this.pendingSubscribes.get(message.id);
        this.pendingSubscribes.delete(message.id);
        if (channel !== undefined) this.subscribed(channel, message.subscribe, at);
      } else if (message.error && message.id) {
        this.pendingSubscribes.delete(message.id);
      } else if (message.push) {
        const { push } = message;
        if (push.pub) {
          this.log(push.channel).push({ kind: 'pub', offset: push.pub.offset ?? 0, data: push.pub.data, conn: this.conn, at });
        } else if (push.subscribe) {
          this.subscribed(push.channel, push.subscribe, at);
        } else if (push.unsubscribe) {
          this.log(push.channel).push({ kind: 'unsub', code: push.unsubscribe.code ?? 0, reason: push.unsubscribe.reason, conn: this.conn, at });
        }
      }
    }
  }

  subscribed(channel, result, at) {
    const publications = result.publications ?? [];
    const entries = this.log(channel);
    entries.push({
      kind: 'sub',
      wasRecovering: Boolean(result.was_recovering),
      recovered: Boolean(result.recovered),
      epoch: result.epoch ?? '',
      offset: result.offset ?? 0,
      count: publications.length,
      conn: this.conn,
      at,
    });
    for (const pub of publications) entries.push({ kind: 'pub', offset: pub.offset ?? 0, data: pub.data, conn: this.conn, at });
  }

  onClose(code, reason) {
    this.closes.push({ conn: this.conn, code, reason: String(reason ?? ''), at: Date.now() });
  }

  /** The node the current transport is connected to. */
  get node() { return this.nodes[this.conn - 1] ?? null; }
}

/**
 * Checks one channel's stream as the server sent it: after each subscription, publications must
 * continue from the subscription's position one offset at a time. A recovered resubscription
 * continues the previous position; `wasRecovering && !recovered` is an announced gap (the
 * position restarts at the reply's top offset). Anything else — a skipped offset, a repeated one,
 * a publication outside a subscription — is a problem.
 * Returns { problems, offsets, announcedGaps, position, epoch, subscriptions }.
 */
export function checkStream(entries) {
  const problems = [];
  const offsets = [];
  let position = null;
  let epoch = null;
  let announcedGaps = 0;
  let subscriptions = 0;
  for (const e of entries) {
    if (e.kind === 'sub') {
      subscriptions += 1;
      if (position === null || !e.wasRecovering) {
        position = e.offset - e.count;
        epoch = e.epoch;
      } else if (e.recovered) {
        if (e.epoch !== epoch) problems.push(`recovered into another epoch (${epoch} → ${e.epoch}) on connection ${e.conn}`);
        if (e.offset - e.count !== position) {
          problems.push(`recovered reply on connection ${e.conn} carries ${e.count} publications up to ${e.offset}, but the client was at ${position}`);
          position = e.offset - e.count;
        }
      } else {
        announcedGaps += 1;
        position = e.offset - e.count;
        epoch = e.epoch;
      }
    } else if (e.kind === 'unsub') {
      if (e.code < 2500) position = null;
    } else if (e.kind === 'pub') {
      offsets.push(e.offset);
      if (position === null) {
        problems.push(`publication ${e.offset} outside a subscription (connection ${e.conn})`);
      } else if (e.offset !== position + 1) {
        problems.push(e.offset <= position
          ? `publication ${e.offset} again or out of order after ${position} (connection ${e.conn})`
          : `silent gap: ${e.offset} after ${position}, ${e.offset - position - 1} missing (connection ${e.conn})`);
      }
      if (position !== null) position = Math.max(position, e.offset);
    }
  }
  return { problems, offsets, announcedGaps, position, epoch, subscriptions };
}

/** A WebSocket class for the centrifuge client that feeds every frame, both ways, to `tap`. */
export function tappedWebSocket(tap) {
  return class extends WebSocket {
    constructor(...args) {
      super(...args);
      tap.newConnection();
      this.addEventListener('message', (event) => tap.onMessage(event.data.toString()));
      this.addEventListener('close', (event) => tap.onClose(event.code, event.reason));
    }

    send(data, ...rest) {
      tap.onSend(typeof data === 'string' ? data : data.toString());
      return super.send(data, ...rest);
    }
  };
}

/**
 * A real centrifuge client subscribed to `channel` (call `start()`): its app-level events are
 * kept next to the wire tap. `options` go to the Centrifuge constructor.
 */
export class CentrifugeSubscriber {
  constructor(url, { user, channel, options = {} }) {
    this.kind = 'centrifuge';
    this.user = user;
    this.channel = channel;
    this.tap = new WireTap();
    this.pubs = []; // { offset, data, at }
    this.subscribedEvents = []; // { wasRecovering, recovered, streamPosition, at }
    this.connecting = []; // { code, reason, at } after the first connect
    this.client = new Centrifuge(url, { websocket: tappedWebSocket(this.tap), token: userToken(user), ...options });
    this.sub = this.client.newSubscription(channel);
    this.sub.on('publication', (ctx) => this.pubs.push({ offset: ctx.offset, data: ctx.data, at: Date.now() }));
    this.sub.on('subscribed', (ctx) => this.subscribedEvents.push({
      wasRecovering: ctx.wasRecovering, recovered: ctx.recovered, streamPosition: ctx.streamPosition, at: Date.now(),
    }));
    this.client.on('connecting', (ctx) => {
      if (this.subscribedEvents.length > 0) this.connecting.push({ code: ctx.code, reason: ctx.reason, at: Date.now() });
    });
  }

  /** Connects and subscribes; resolves once subscribed. */
  start(timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.user}: not subscribed to ${this.channel} within ${timeoutMs} ms (state ${this.client.state}/${this.sub.state})`)), timeoutMs);
      this.sub.once('subscribed', () => { clearTimeout(timer); resolve(this); });
      this.sub.subscribe();
      this.client.connect();
    });
  }

  get node() { return this.tap.node; }
  get received() { return this.pubs.length; }
  stream() { return checkStream(this.tap.log(this.channel)); }
  stop() { this.client.disconnect(); }
}

/**
 * A client speaking the JSON protocol over a raw WebSocket. `connect()` opens it; `subscribe()`
 * subscribes; with `reconnect`, a closed transport is reopened after a jittered delay
 * (`minDelay`–`maxDelay` ms) and every channel resubscribed with its position (recover). An
 * unsubscribe push with a code >= 2500 resubscribes with recovery at once; temporary errors are
 * retried.
 */
export class RawClient extends EventEmitter {
  constructor(url, { user, reconnect = false, minDelay = 50, maxDelay = 250 } = {}) {
    super();
    this.kind = 'raw';
    this.url = url;
    this.user = user;
    this.reconnect = reconnect;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.tap = new WireTap();
    this.nextId = 1;
    this.pending = new Map();
    this.channels = new Map(); // channel → { epoch, offset, recoverable, subscribing }
    this.stopped = false;
    this.ws = null;
    this.subscribedEvents = []; // { channel, wasRecovering, recovered, at }
    this.closes = []; // { code, reason, at }
    this.refreshPushes = [];
    this.serverSubscribes = [];
    this.connectResult = null;
  }

  get node() { return this.tap.node; }

  send(message) {
    const text = JSON.stringify(message);
    this.tap.onSend(text);
    this.ws.send(text);
  }

  /** Sends a command; `onReply` (optional) runs synchronously when its reply is read, before any later message of the same frame. */
  command(method, body, onReply) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method, onReply });
      try {
        this.send({ id, [method]: body });
      } catch (error) {
        this.pending.delete(id);
        reject(error);
      }
    });
  }

  /** Opens a transport and sends connect; resolves with the connect result. */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      this.tap.newConnection();
      ws.on('open', () => {
        this.command('connect', { token: userToken(this.user), name: 'cluster-test-raw' })
          .then((result) => { this.connectResult = result; resolve(result); }, reject);
      });
      ws.on('message', (data) => this.onMessage(data.toString()));
      ws.on('error', () => {});
      ws.on('close', (code, reason) => {
        this.tap.onClose(code, reason);
        const at = Date.now();
        this.closes.push({ code, reason: reason.toString(), at });
        for (const p of this.pending.values()) p.reject(new Error(`connection closed (${code}) before the ${p.method} reply`));
        this.pending.clear();
        reject(new Error(`connection closed (${code} ${reason})`));
        this.emit('close', { code, reason: reason.toString(), at });
        const terminal = (code >= 3500 && code < 4000) || (code >= 4500 && code < 5000);
        if (this.reconnect && !this.stopped && !terminal) this.scheduleReconnect();
      });
    });
  }

  scheduleReconnect() {
    const delay = this.minDelay + Math.random() * (this.maxDelay - this.minDelay);
    setTimeout(() => this.reconnectNow(), delay);
  }

  async reconnectNow() {
    if (this.stopped) return;
    try {
      await this.connect();
    } catch {
      return; // the close handler schedules the next attempt
    }
    for (const channel of this.channels.keys()) this.resubscribe(channel);
  }

  /** Subscribes to `channel`; resolves with the subscribe result. */
  async subscribe(channel) {
    this.channels.set(channel, { epoch: '', offset: 0, recoverable: false, subscribing: false });
    return this.doSubscribe(channel);
  }

  async doSubscribe(channel) {
    const state = this.channels.get(channel);
    const body = { channel };
    if (state.recoverable) Object.assign(body, { recover: true, epoch: state.epoch, offset: state.offset });
    // The reply's position is taken when the reply is read, not a microtask later: a push in the
    // same frame (a publication, or an unsubscribe 2500) must see the new subscription.
    return this.command('subscribe', body, (result) => {
      state.recoverable = Boolean(result.recoverable);
      state.epoch = result.epoch ?? '';
      state.offset = result.offset ?? 0;
      state.subscribing = false;
      this.subscribedEvents.push({ channel, wasRecovering: Boolean(result.was_recovering), recovered: Boolean(result.recovered), at: Date.now() });
      this.emit('subscribed', channel, result);
    });
  }

  /**
   * Resubscribes with recovery, retrying temporary errors while the transport stays open. Like
   * the SDKs, a channel already being subscribed is left alone: a 2500 that arrives before the
   * reply concerns the subscription the client is replacing.
   */
  resubscribe(channel) {
    const ws = this.ws;
    const state = this.channels.get(channel);
    if (!state || state.subscribing) return;
    state.subscribing = true;
    const attempt = () => {
      if (this.stopped || this.ws !== ws || ws.readyState !== WebSocket.OPEN || this.channels.get(channel) !== state) {
        state.subscribing = false;
        return;
      }
      this.doSubscribe(channel).then(() => { state.subscribing = false; }, (error) => {
        if (error.temporary) setTimeout(attempt, 100 + Math.random() * 200);
        else state.subscribing = false;
      });
    };
    attempt();
  }

  onMessage(text) {
    this.tap.onMessage(text);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      if (line === '{}') {
        this.ws.send('{}'); // pong
        continue;
      }
      const message = JSON.parse(line);
      if (message.id) {
        const p = this.pending.get(message.id);
        if (!p) continue;
        this.pending.delete(message.id);
        if (message.error) p.reject(Object.assign(new Error(`${p.method}: ${message.error.code} ${message.error.message}`), message.error));
        else {
          const result = message[p.method] ?? {};
          p.onReply?.(result);
          p.resolve(result);
        }
        continue;
      }
      const push = message.push;
      if (!push) continue;
      const state = push.channel ? this.channels.get(push.channel) : undefined;
      if (push.pub && state && push.pub.offset) state.offset = Math.max(state.offset, push.pub.offset);
      if (push.unsubscribe && state) {
        if ((push.unsubscribe.code ?? 0) >= 2500) this.resubscribe(push.channel);
        else this.channels.delete(push.channel);
      }
      if (push.subscribe) this.serverSubscribes.push({ channel: push.channel, ...push.subscribe, at: Date.now() });
      if (push.refresh) this.refreshPushes.push({ ...push.refresh, at: Date.now() });
      this.emit('push', push);
    }
  }

  received(channel) { return this.tap.log(channel).filter((e) => e.kind === 'pub').length; }
  stream(channel) { return checkStream(this.tap.log(channel)); }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }
}
