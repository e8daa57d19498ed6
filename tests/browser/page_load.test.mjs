// ./scripts/run starts the server, prints the student URL and a QR code; headless Chromium
// (Debian's, driven by playwright-core) loads the page from it over HTTPS. The server never runs
// as root: started through sudo it runs as the user behind sudo, started by root itself it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, sleepMs, waitForReadyFile } from './harness.mjs';

const root = path.resolve(import.meta.dirname, '../..');

const isRoot = process.getuid() === 0;
const testUser = 'ptt-run-test';

// sudo itself is not installed everywhere, and giving a test user sudo rights would change the
// machine's policy: the test sets what sudo sets for the program it starts (SUDO_USER, SUDO_UID,
// SUDO_GID) and runs scripts/run as root, as `sudo ./scripts/run` does.
function ensureTestUser() {
  try {
    execFileSync('id', ['-u', testUser], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', testUser]);
  }
  const uid = Number(execFileSync('id', ['-u', testUser]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', testUser]).toString().trim());
  return { uid, gid };
}

function uidsOf(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
  return line.split(/\s+/).slice(1, 5).map(Number);  // real, effective, saved, filesystem
}

// Starts scripts/run with --ready-file in a folder of its own (given to `owner`, the user the
// server becomes, when there is one); `ready` is the file's content once the server wrote it.
function startRun(args, env = {}, owner = null) {
  const readyDir = mkdtempSync(path.join(tmpdir(), 'ptt-ready-'));
  if (owner) chownSync(readyDir, owner.uid, owner.gid);
  const readyFile = path.join(readyDir, 'ready.json');
  const proc = spawn(path.join(root, 'scripts/run'), [...args, '--ready-file', readyFile],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout.on('data', (chunk) => { out += chunk; });
  proc.stderr.on('data', (chunk) => { out += chunk; });
  // 240 s: scripts/run builds the server first.
  const ready = waitForReadyFile(readyFile, proc, 240_000).then((r) => {
    if (!r) throw new Error(`scripts/run's server did not get ready (exit ${proc.exitCode}):\n${out}`);
    return r;
  });
  return { proc, ready, readyDir, output: () => out };
}

test('scripts/run serves the page over HTTPS to headless Chromium, never as root', { timeout: 300_000 }, async () => {
  const state = mkdtempSync(path.join(tmpdir(), 'ptt-run-'));
  chmodSync(state, 0o755);  // the user behind sudo must reach the folders inside
  let env = {}, user = null;
  if (isRoot) {
    user = ensureTestUser();
    env = { SUDO_USER: testUser, SUDO_UID: String(user.uid), SUDO_GID: String(user.gid),
            PTT_STATE_DIR: path.join(state, 'state'), PTT_RECORDINGS: path.join(state, 'recordings') };
  }
  const helpPort = await freePort();
  const args = ['--port', '0', '--no-playback', '--help-port', String(helpPort)];
  const run = startRun(isRoot ? args : [...args, '--state-dir', state], env, user);
  const profile = mkdtempSync(path.join(tmpdir(), 'ptt-chromium-'));
  let context;
  try {
    const ready = await run.ready;
    assert.equal(ready.https, true);
    assert.equal(ready.pid, run.proc.pid, 'scripts/run execs the server');
    // What the professor sees: the URL and its QR code, printed before the ready file is written
    // (the pipe may deliver it a moment later).
    // Students are given the plain-HTTP page that explains the certificate warning first, on a
    // port of its own.
    const url = `https://localhost:${ready.port}/`;
    assert.equal(ready.help_port, helpPort);
    const helpUrl = `http://localhost:${helpPort}/`;
    for (let i = 0; i < 100 && !(run.output().includes(helpUrl) && run.output().includes('\u2588')); i++) await sleepMs(20);
    assert.ok(run.output().includes(helpUrl), run.output());
    assert.match(run.output(), /explains the browser's certificate warning, then links to https:/);
    assert.ok(run.output().includes('\u2588'), 'a QR code is printed');
    assert.match(run.output(), /Students, open:/);
    if (isRoot) {
      // scripts/run execs the server: this pid is ptt-server, and every id it holds is the user's.
      assert.match(readFileSync(`/proc/${run.proc.pid}/comm`, 'utf8'), /ptt-server/);
      assert.deepEqual(uidsOf(run.proc.pid), [user.uid, user.uid, user.uid, user.uid]);
      assert.match(run.output(), new RegExp(`running as user ${testUser}`));
      for (const dir of ['state', 'recordings']) assert.equal(statSync(path.join(state, dir)).uid, user.uid, dir);
      assert.equal(statSync(path.join(state, 'state', 'key.pem')).uid, user.uid, 'the key is the user\'s');
    }
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      ignoreHTTPSErrors: true, // the server's own self-signed certificate
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
             '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    const page = context.pages()[0] ?? await context.newPage();
    // A newcomer follows the printed address: the help page, then its link on to the class.
    const help = await page.goto(helpUrl);
    assert.equal(help.status(), 200);
    assert.match(await page.locator('main').textContent(), /Your connection is not private/);
    assert.ok(await page.getByRole('heading', { name: 'Android (Chrome)' }).isVisible());
    const [response] = await Promise.all([
      page.waitForNavigation({ url }),
      page.getByRole('link', { name: 'Continue to the class' }).click(),
    ]);
    assert.equal(response.status(), 200);
    assert.equal(page.url(), url);
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
    // The help port serves only that page: anything else there goes on to https on the TLS port, with
    // the host name the student typed. The TLS port answers plain HTTP with the same page too.
    const other = await fetch(`http://localhost:${helpPort}/index.html`, { redirect: 'manual' });
    assert.equal(other.status, 302);
    assert.equal(other.headers.get('location'), `https://localhost:${ready.port}/index.html`);
    const samePort = await fetch(`http://localhost:${ready.port}/?room=42`);
    assert.equal(samePort.status, 200);
    assert.match(await samePort.text(), new RegExp(`https://localhost:${ready.port}/\\?room=42`));
  } finally {
    if (context) await context.close();
    if (run.proc.exitCode === null && run.proc.signalCode === null) {
      const exited = new Promise((r) => run.proc.once('exit', r));
      run.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(profile, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
    rmSync(run.readyDir, { recursive: true, force: true });
  }
});

test('scripts/run started by root itself refuses, and says how to run it', { timeout: 300_000, skip: !isRoot && 'needs root' }, async () => {
  const state = mkdtempSync(path.join(tmpdir(), 'ptt-run-root-'));
  const env = { ...process.env, PTT_STATE_DIR: path.join(state, 'state'), PTT_RECORDINGS: path.join(state, 'recordings') };
  for (const k of ['SUDO_USER', 'SUDO_UID', 'SUDO_GID']) delete env[k];
  try {
    const proc = spawn(path.join(root, 'scripts/run'), ['--port', '0', '--no-playback'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c) => { out += c; });
    proc.stderr.on('data', (c) => { out += c; });
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    assert.notEqual(code, 0, out);
    assert.match(out, /will not run as root/);
    assert.match(out, /--allow-root/);
    assert.doesNotMatch(out, /Students, open:/);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});
