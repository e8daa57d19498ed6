// ./scripts/run starts the server, prints the student URL and a QR code; headless Chromium
// (Debian's, driven by playwright-core) loads the page from it over HTTPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const root = path.resolve(import.meta.dirname, '../..');

function startRun(args) {
  const proc = spawn(path.join(root, 'scripts/run'), args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const urlFound = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 240 s:\n${out}`)), 240_000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/https:\/\/localhost:(\d+)\//);
      if (m && out.includes('\u2588')) { clearTimeout(timer); resolve(m[0]); }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`scripts/run exited ${code}:\n${out}`)));
  });
  return { proc, urlFound, output: () => out };
}

test('scripts/run serves the page over HTTPS to headless Chromium', { timeout: 300_000 }, async () => {
  const state = mkdtempSync(path.join(tmpdir(), 'ptt-run-'));
  const run = startRun(['--port', '0', '--state-dir', state]);
  const profile = mkdtempSync(path.join(tmpdir(), 'ptt-chromium-'));
  let context;
  try {
    const url = await run.urlFound;
    assert.match(run.output(), /Students, open:/);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      ignoreHTTPSErrors: true, // the server's own self-signed certificate
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
             '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const page = context.pages()[0] ?? await context.newPage();
    const response = await page.goto(url);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).protocol, 'https:');
    assert.equal(await page.title(), 'Smart Push-to-Talk');
    // The page reaches its join form only after the wasm client compiled from /wasm/.
    await page.locator('#app[data-state="join"]').waitFor({ timeout: 15_000 });
    assert.ok(await page.getByRole('textbox', { name: /your name/i }).isVisible());
    assert.ok(await page.getByRole('button', { name: 'Join' }).isVisible());
    assert.equal(await page.getByRole('button', { name: /hold to talk/i }).count(), 0, 'talk button waits for a name');
    const securityDetails = await response.securityDetails();
    assert.ok(securityDetails, 'the page came over TLS');
    assert.match(securityDetails.protocol, /TLS 1\.[23]/);
  } finally {
    if (context) await context.close();
    if (run.proc.exitCode === null && run.proc.signalCode === null) {
      const exited = new Promise((r) => run.proc.once('exit', r));
      run.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(profile, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
