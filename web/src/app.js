import { Centrifuge } from 'centrifuge';
import * as oauth from './oauth.js';

// The page is served by Switchboard itself, so every endpoint is on the same host. WebSocket
// first; where a proxy or network breaks WebSockets the client falls back to HTTP-streaming, then
// to Server-Sent Events (both send later commands as POST /emulation).
const endpoint = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/connection/websocket`;
const transports = [
  { transport: 'websocket', endpoint },
  { transport: 'http_stream', endpoint: `${location.origin}/connection/http_stream` },
  { transport: 'sse', endpoint: `${location.origin}/connection/sse` },
];
const MAX_LOG_ENTRIES = 500;

const $ = (id) => document.getElementById(id);

/** @type {import('centrifuge').Centrifuge | null} */
let client = null;
/** channel -> { sub, row } for the subscriptions this page created. */
const subscriptions = new Map();

// Small DOM helper: text always goes through text nodes, so data from the server is never parsed as HTML.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'className') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const json = (value) => JSON.stringify(value);
const who = (info) => (info ? `${info.user ? `user "${info.user}"` : 'anonymous'} (client ${info.client})` : '');
// The SDK rejects with plain { code, message } objects for server errors, and with Error objects otherwise.
const describeError = (err) => (err && err.code !== undefined ? `${err.code}: ${err.message}` : String(err?.message ?? err));

function log(kind, channel, text) {
  const list = $('log');
  const time = new Date().toLocaleTimeString();
  list.prepend(
    el('li', { dataset: { kind, channel: channel ?? '' } },
      // The spaces keep textContent (and screen readers) readable; flex layout ignores them.
      el('time', { className: 'muted' }, time), ' ',
      el('span', { className: `tag tag-${kind}` }, kind), ' ',
      channel ? [el('code', {}, channel), ' '] : null,
      el('span', { className: 'text' }, text)));
  while (list.children.length > MAX_LOG_ENTRIES) list.lastElementChild.remove();
}

// ---- connection ----

function showState(state) {
  const badge = $('state');
  badge.textContent = state;
  badge.dataset.state = state;
  $('connect').disabled = state !== 'disconnected';
  $('disconnect').disabled = state === 'disconnected';
}

function createClient(token) {
  // Only pass a token when one was pasted: no token means an anonymous connection.
  const options = token ? { token } : {};
  // Signed in and connecting with that access token: the client asks for a fresh one before it expires.
  if (token && token === oauth.current()?.accessToken) {
    options.getToken = async () => {
      const fresh = await oauth.refresh();
      $('token').value = fresh;
      return fresh;
    };
  }
  options.emulationEndpoint = `${location.origin}/emulation`;
  const c = new Centrifuge(transports, options);

  c.on('state', ({ newState, oldState }) => {
    showState(newState);
    log('state', null, `${oldState} → ${newState}`);
  });
  c.on('connecting', ({ code, reason }) => {
    $('client-id').textContent = '';
    $('state-detail').textContent = `${code}: ${reason}`;
    log('connecting', null, `code ${code}: ${reason}`);
  });
  c.on('connected', ({ client: id, transport }) => {
    $('client-id').textContent = `client ${id}`;
    $('state-detail').textContent = `via ${transport}`;
    log('connected', null, `client ${id} via ${transport}`);
  });
  c.on('disconnected', ({ code, reason }) => {
    $('client-id').textContent = '';
    $('state-detail').textContent = `${code}: ${reason}`;
    log('disconnected', null, `code ${code}: ${reason}`);
  });
  c.on('error', ({ type, error }) => {
    $('state-detail').textContent = `error (${type}) ${describeError(error)}`;
    log('error', null, `${type}: ${describeError(error)}`);
  });
  return c;
}

// One client lives for the whole page so that subscriptions survive Disconnect/Connect and
// resubscribe with recovery, which is what the subscribed event's wasRecovering/recovered show.
function ensureClient() {
  if (!client) client = createClient($('token').value.trim());
  return client;
}

$('connect').addEventListener('click', () => {
  const token = $('token').value.trim();
  if (client) client.setToken(token); // the token may have been pasted or cleared since the client was made
  else client = createClient(token);
  client.connect();
});

$('disconnect').addEventListener('click', () => client?.disconnect());

// ---- subscriptions ----

function refreshTargets(select) {
  const target = $('target');
  target.replaceChildren(...[...subscriptions.keys()].map((ch) => el('option', { value: ch }, ch)));
  if (select) target.value = select;
  const none = subscriptions.size === 0;
  for (const id of ['target', 'publish', 'presence', 'presence-stats', 'history']) $(id).disabled = none;
  $('no-subscriptions').hidden = !none;
}

function showSubState(row, state) {
  const badge = row.querySelector('[data-testid="subscription-state"]');
  badge.textContent = state;
  badge.dataset.state = state;
}

function subscribe(channel, token) {
  const options = { joinLeave: true };
  if (token) options.token = token;
  const sub = ensureClient().newSubscription(channel, options);

  const row = el('li', { dataset: { testid: 'subscription', channel } },
    el('code', { className: 'channel' }, channel),
    el('span', { className: 'badge', dataset: { testid: 'subscription-state', state: sub.state } }, sub.state),
    el('button', {
      type: 'button',
      className: 'secondary small',
      dataset: { testid: 'unsubscribe' },
      'aria-label': `Unsubscribe from ${channel}`,
      onclick: () => unsubscribe(channel),
    }, 'Unsubscribe'));
  $('subscriptions').append(row);
  subscriptions.set(channel, { sub, row });

  sub.on('state', ({ newState }) => showSubState(row, newState));
  sub.on('subscribing', ({ code, reason }) => log('subscribing', channel, `code ${code}: ${reason}`));
  sub.on('subscribed', (ctx) => {
    const position = ctx.streamPosition ? `, offset ${ctx.streamPosition.offset}, epoch "${ctx.streamPosition.epoch}"` : '';
    log('subscribed', channel,
      `recoverable: ${ctx.recoverable}, wasRecovering: ${ctx.wasRecovering}, recovered: ${ctx.recovered}${position}`);
  });
  sub.on('unsubscribed', ({ code, reason }) => log('unsubscribed', channel, `code ${code}: ${reason}`));
  sub.on('error', ({ type, error }) => log('error', channel, `${type}: ${describeError(error)}`));
  sub.on('publication', (ctx) => {
    const offset = ctx.offset !== undefined ? `#${ctx.offset} ` : '';
    const from = ctx.info ? ` from ${who(ctx.info)}` : '';
    log('publication', channel, `${offset}${json(ctx.data)}${from}`);
  });
  sub.on('join', ({ info }) => log('join', channel, who(info)));
  sub.on('leave', ({ info }) => log('leave', channel, who(info)));

  sub.subscribe();
  refreshTargets(channel);
}

function unsubscribe(channel) {
  const entry = subscriptions.get(channel);
  if (!entry) return;
  subscriptions.delete(channel);
  entry.sub.unsubscribe();
  // Removing it from the client's registry lets the same channel be subscribed again later.
  client.removeSubscription(entry.sub);
  entry.sub.removeAllListeners();
  entry.row.remove();
  refreshTargets();
}

$('subscribe-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const channel = $('channel').value.trim();
  $('subscribe-error').textContent = '';
  if (!channel) return;
  if (subscriptions.has(channel)) {
    $('subscribe-error').textContent = `Already subscribed to ${channel}.`;
    return;
  }
  try {
    subscribe(channel, $('sub-token').value.trim());
  } catch (err) {
    $('subscribe-error').textContent = describeError(err);
  }
});

// ---- publish, presence, history ----

function currentTarget() {
  const channel = $('target').value;
  return { channel, sub: subscriptions.get(channel)?.sub };
}

$('publish-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const { channel, sub } = currentTarget();
  if (!sub) return;
  const input = $('publish-text');
  $('publish-error').textContent = '';
  try {
    await sub.publish({ text: input.value, at: new Date().toISOString() });
    input.value = '';
  } catch (err) {
    $('publish-error').textContent = `Publish to ${channel} failed: ${describeError(err)}`;
    log('error', channel, `publish: ${describeError(err)}`);
  }
});

function showResult(title, ...body) {
  $('result').replaceChildren(el('h3', {}, title), ...body);
}

// Runs one query against the selected subscription and renders either its result or its error.
function query(name, run) {
  return async () => {
    const { channel, sub } = currentTarget();
    if (!sub) return;
    try {
      await run(channel, sub);
    } catch (err) {
      showResult(`${name} of ${channel} failed`, el('p', { className: 'error', dataset: { testid: 'result-error' } }, describeError(err)));
    }
  };
}

$('presence').addEventListener('click', query('Presence', async (channel, sub) => {
  const { clients } = await sub.presence();
  const infos = Object.values(clients);
  showResult(`Presence in ${channel}: ${infos.length} client(s)`,
    el('ul', { className: 'plain' }, infos.map((info) => el('li', {},
      el('strong', {}, info.user || 'anonymous'), ` client ${info.client}`,
      info.connInfo !== undefined ? ` conn info ${json(info.connInfo)}` : null,
      info.chanInfo !== undefined ? ` channel info ${json(info.chanInfo)}` : null))));
}));

$('presence-stats').addEventListener('click', query('Presence stats', async (channel, sub) => {
  const { numClients, numUsers } = await sub.presenceStats();
  showResult(`Presence stats of ${channel}`,
    el('dl', { className: 'stats' },
      el('dt', {}, 'Clients'), el('dd', { dataset: { testid: 'num-clients' } }, String(numClients)),
      el('dt', {}, 'Users'), el('dd', { dataset: { testid: 'num-users' } }, String(numUsers))));
}));

$('history').addEventListener('click', query('History', async (channel, sub) => {
  const { publications, offset, epoch } = await sub.history({ limit: 20, reverse: true });
  showResult(`History of ${channel}: ${publications.length} publication(s), newest first`,
    el('p', { className: 'muted' }, `Stream top offset ${offset}, epoch "${epoch}"`),
    el('ol', { className: 'plain' }, publications.map((p) => el('li', {},
      el('code', {}, `#${p.offset}`), ` ${json(p.data)}`, p.info ? ` from ${who(p.info)}` : null))));
}));

$('clear-log').addEventListener('click', () => $('log').replaceChildren());

// ---- sign-in (the built-in OAuth server, when it runs) ----

function showAccount(tokens) {
  const name = tokens ? oauth.userName(tokens.accessToken) : '';
  $('user').textContent = tokens ? `signed in as ${name}` : '';
  $('sign-in').hidden = Boolean(tokens);
  $('sign-out').hidden = !tokens;
  if (tokens) $('token').value = tokens.accessToken;
}

$('sign-in').addEventListener('click', () => oauth.signIn().catch((err) => { $('account-error').textContent = describeError(err); }));
$('sign-out').addEventListener('click', async () => {
  await oauth.signOut();
  // A fresh page: the client made for the signed-in user would keep asking for its tokens.
  location.assign(location.pathname);
});

(async () => {
  if (!(await oauth.available())) return;
  $('account').hidden = false;
  try {
    const tokens = await oauth.completeSignIn();
    showAccount(tokens);
    if (tokens) log('state', null, `signed in as ${oauth.userName(tokens.accessToken)}: Connect uses the access token`);
  } catch (err) {
    $('account-error').textContent = `Sign-in failed: ${describeError(err)}`;
    showAccount(null);
  }
})();

$('endpoint').textContent = `${endpoint} (falls back to http_stream, then sse)`;
showState('disconnected');
refreshTargets();
