// A Switchboard cluster for a test file, driven through scripts/cluster.sh (the same script people
// use): Redis, N nodes on the Redis engine, HAProxy in front, in a state directory of its own on
// free ports. Every process is stopped by the script's `down`, also when the test process exits
// without reaching its `after` hook.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const script = path.join(root, 'scripts/cluster.sh');

export const API_KEY = 'cluster-test-api-key-0123456789';
export const SECRET = 'cluster-test-hmac-secret-0123456789-abcdef';

// Configuration every test cluster gets (on top of the server's appsettings.json).
export const baseConfig = {
  Switchboard__Api__Key: API_KEY,
  Switchboard__Token__HmacSecretKey: SECRET,
  Switchboard__Client__AllowAnonymousConnectWithoutToken: 'true',
  Switchboard__Drain__Window: '00:00:00',
  // `feed`: streams with history and recovery, the channels the delivery and failure tests use.
  Switchboard__Namespaces__feed__HistorySize: '2000',
  Switchboard__Namespaces__feed__HistoryTtl: '00:10:00',
  Switchboard__Namespaces__feed__ForceRecovery: 'true',
  Switchboard__Namespaces__feed__AllowSubscribeForClient: 'true',
  // `room`: presence and join/leave, for the cross-node API test.
  Switchboard__Namespaces__room__Presence: 'true',
  Switchboard__Namespaces__room__JoinLeave: 'true',
  Switchboard__Namespaces__room__AllowSubscribeForClient: 'true',
  Switchboard__Namespaces__room__AllowPresenceForSubscriber: 'true',
};

const live = new Set();
// A test process stopped by a signal still runs its exit handlers (and so stops its clusters).
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
}
process.on('exit', () => {
  // The test process is leaving with clusters still up (a crash, a cancelled run): stop them.
  for (const cluster of live) {
    spawnSync(script, ['down', '--state-dir', cluster.stateDir], { stdio: 'ignore', timeout: 60000 });
  }
});

/** Runs `scripts/cluster.sh args…`; resolves with { code, stdout, stderr }. */
function run(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(script, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function runChecked(args, env) {
  const result = await run(args, env);
  if (result.code !== 0) {
    throw new Error(`scripts/cluster.sh ${args.join(' ')} exited with ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result;
}

/**
 * Brings a cluster of `nodes` nodes up (`aof`: Redis with appendfsync always) with the base
 * configuration plus `env`. Resolves with an object describing it and driving it.
 */
export async function startCluster({ nodes = 3, aof = false, env = {} } = {}) {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'switchboard-cluster-'));
  const childEnv = { ...process.env, ...baseConfig, ...env };
  const args = ['up', String(nodes), '--state-dir', stateDir, '--json'];
  if (aof) args.push('--aof');
  const cluster = { stateDir, down: async () => {} };
  live.add(cluster);
  let up;
  try {
    up = await runChecked(args, childEnv);
  } catch (error) {
    live.delete(cluster);
    await run(['down', '--state-dir', stateDir], childEnv);
    throw error;
  }
  const lines = up.stdout.trim().split('\n');
  const info = JSON.parse(lines[lines.length - 1]);
  return Object.assign(cluster, info, {
    /** The HAProxy WebSocket address clients use. */
    lbWs: info.ws,
    /** node(i): { name, url, ws, port } for i = 1..N. */
    node(i) { return info.nodes[i - 1]; },
    /** Calls the server API of node i (1..N); returns the parsed body ({result} or {error}). */
    async api(i, method, body = {}) {
      const res = await fetch(`${info.nodes[i - 1].url}/api/${method}`, {
        method: 'POST',
        headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15000),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`node-${i} api ${method}: HTTP ${res.status} ${text}`);
      return JSON.parse(text);
    },
    /** Like api() but fails on an error reply; returns the result. */
    async call(i, method, body = {}) {
      const reply = await this.api(i, method, body);
      if (reply.error) throw new Error(`node-${i} api ${method} ${JSON.stringify(body)}: error ${JSON.stringify(reply.error)}`);
      return reply.result;
    },
    /** GET /healthz/ready of node i: { status, body }. */
    async ready(i) {
      try {
        const res = await fetch(`${info.nodes[i - 1].url}/healthz/ready`, { signal: AbortSignal.timeout(5000) });
        return { status: res.status, body: await res.text() };
      } catch (error) {
        return { status: 0, body: String(error) };
      }
    },
    async killNode(i) { await runChecked(['kill-node', String(i), '--state-dir', stateDir], childEnv); },
    async startNode(i) { await runChecked(['start-node', String(i), '--state-dir', stateDir], childEnv); },
    async restartRedis(extra = []) { await runChecked(['restart-redis', '--state-dir', stateDir, ...extra], childEnv); },
    /** `status --json`: { nodes: [{ name, pid, ready, lb }], redis: { pid }, haproxy: { pid } }, and its exit code. */
    async status() {
      const result = await run(['status', '--state-dir', stateDir, '--json'], childEnv);
      const lines = result.stdout.trim().split('\n');
      return { code: result.code, ...JSON.parse(lines[lines.length - 1]) };
    },
    /** The last lines of a process's log (node-1, redis, haproxy…), for failure messages. */
    logTail(name, lines = 40) {
      const file = path.join(info.logs, `${name}.log`);
      if (!existsSync(file)) return `(no ${file})`;
      return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
    },
    /** Lines of a node's log matching a pattern (errors and warnings by default). */
    logGrep(name, pattern = /\b(fail|crit|error|warn)\w*:/i) {
      const file = path.join(info.logs, `${name}.log`);
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8').split('\n').filter((l) => pattern.test(l));
    },
    /**
     * Stops every process of the cluster and deletes its state directory; with
     * SWITCHBOARD_CLUSTER_KEEP_LOGS=1 in the environment the logs stay there (path printed).
     */
    async down() {
      if (!live.has(cluster)) return;
      live.delete(cluster);
      const keep = process.env.SWITCHBOARD_CLUSTER_KEEP_LOGS === '1';
      await runChecked(['down', '--state-dir', stateDir, ...(keep ? ['--keep-logs'] : [])], childEnv);
      if (keep) process.stderr.write(`cluster logs kept in ${info.logs}\n`);
    },
  });
}

/** Polls `probe` (sync or async) until it returns a truthy value; fails after `timeoutMs` with `message()`. */
export async function until(probe, { timeoutMs = 10000, intervalMs = 50, message = () => 'condition not met' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() >= deadline) {
      const text = typeof message === 'function' ? await message() : message;
      throw new Error(`timed out after ${timeoutMs} ms: ${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Runs `worker(item)` over `items` with at most `limit` running at once. */
export async function mapLimit(items, limit, worker) {
  const results = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await worker(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** min / p50 / p90 / max (and count) of a list of numbers. */
export function distribution(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return sorted.length === 0
    ? { count: 0 }
    : { count: sorted.length, min: sorted[0], p50: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1] };
}

/** Writes a file under artifacts/cluster/ (created as needed); returns its path. */
export function writeArtifact(name, content) {
  const dir = path.join(root, 'artifacts/cluster');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}
