// Builds the demo page into dist/: one bundled script plus the static files, so the server can
// serve everything itself (no CDN at run time).
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

// Start clean so files removed from src/ do not linger in what the server ships.
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

await build({
  entryPoints: [join(src, 'app.js')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});

for (const file of ['index.html', 'live.html', 'style.css']) {
  await copyFile(join(src, file), join(dist, file));
}

console.log('web: built dist/index.html, dist/live.html, dist/app.js, dist/style.css');
