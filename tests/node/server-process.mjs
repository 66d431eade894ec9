// A real Switchboard server process on a free loopback port, stopped exactly (only the process it
// started). Shared by the Node test suites (tests/compat, tests/browser); uses Node built-ins only.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const serverDll = process.env.SWITCHBOARD_SERVER_DLL
  ?? path.join(root, 'src/Switchboard.Server/bin/Release/net10.0/Switchboard.Server.dll');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a server with the environment `env` (configuration as `Switchboard__…` variables) and
 * resolves once it listens. The object can `stop()`, `restart()` on the same port, and call the
 * server API with `apiKey`. A server that fails to come up is stopped before the error is thrown.
 */
export async function startServerProcess(env, apiKey) {
  const port = await freePort();
  const server = {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    process: null,
    output: '',
    async start() {
      const child = spawn('dotnet', [serverDll, '--urls', this.url], {
        env: { ...process.env, ...env, DOTNET_NOLOGO: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.process = child;
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.output}`)), 30000);
        const onData = (chunk) => {
          this.output += chunk.toString();
          if (this.output.includes('Now listening on')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`server exited with ${code}:\n${this.output}`));
        });
      });
    },
    /** SIGTERM to the process this server started (SIGKILL after 10 s), and wait for it to exit. */
    async stop() {
      const child = this.process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
      this.process = null;
    },
    /** Stops and starts the server on the same port: the memory engine loses every stream. */
    async restart() {
      await this.stop();
      this.output = '';
      await this.start();
    },
    /** Calls the server API; returns the parsed body. */
    async api(method, body = {}) {
      const res = await fetch(`${this.url}/api/${method}`, {
        method: 'POST',
        headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`api ${method}: HTTP ${res.status} ${text}`);
      return JSON.parse(text);
    },
  };
  try {
    await server.start();
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
