// Shared set-up for the browser tests: an isolated PulseAudio null sink, the real ptt-server over
// HTTPS (playing into that sink), Debian's Chromium with a fake microphone, parec on the sink.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const root = path.resolve(import.meta.dirname, '../..');
export const serverBinary = process.env.PTT_SERVER ?? path.join(root, 'build/native/server/ptt-server');
export const artifacts = process.env.PTT_ARTIFACTS ?? path.join(root, 'build/native/browser-artifacts');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Harness {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'ptt-browser-'));
    this.runtime = path.join(this.dir, 'runtime');
    mkdirSync(this.runtime, { mode: 0o700 });
    this.env = { ...process.env, XDG_RUNTIME_DIR: this.runtime, PULSE_SERVER: `unix:${this.runtime}/pulse/native`, HOME: this.dir };
    this.children = [];
    this.contexts = [];
    mkdirSync(artifacts, { recursive: true });
  }

  spawn(cmd, args, logName) {
    const child = spawn(cmd, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.log = '';
    child.stdout.on('data', (d) => { child.log += d; });
    child.stderr.on('data', (d) => { child.log += d; });
    child.name = logName;
    this.children.push(child);
    return child;
  }

  // `loopbackMic`: the sink's left channel is also a microphone (source `mic`, fed through sink
  // `click_in`) and the server plays into its right channel (sink `server_out`): one recording of
  // ptt_sink.monitor then holds what went into the microphone and what came out, on one clock.
  // `speechMic`: a microphone (source `mic`) that plays what playMic() is given, as every engine
  // can open it (a remapped source: WebKit refuses a sink's monitor), and the sink `browser_out`
  // for the pages' own sounds.
  async startPulse({ loopbackMic = false, speechMic = false, room = null } = {}) {
    const modules = ['module-null-sink sink_name=ptt_sink rate=48000 channels=2 channel_map=front-left,front-right'];
    if (loopbackMic) {
      const remap = 'channels=1 channel_map=mono remix=no';
      modules.push(`module-remap-sink sink_name=server_out master=ptt_sink master_channel_map=front-right ${remap}`,
        `module-remap-sink sink_name=click_in master=ptt_sink master_channel_map=front-left ${remap}`,
        `module-remap-source source_name=mic master=ptt_sink.monitor master_channel_map=front-left ${remap}`,
        'module-null-sink sink_name=browser_out rate=48000 channels=2');  // the page's own sounds (the grant tone)
      this.env.PULSE_SINK = 'server_out';
    }
    if (speechMic) {
      modules.push('module-null-sink sink_name=speech_in rate=48000 channels=1 channel_map=mono',
        'module-remap-source source_name=mic master=speech_in.monitor channels=1 channel_map=mono',
        'module-null-sink sink_name=browser_out rate=48000 channels=2');
      this.env.PULSE_SINK = 'ptt_sink';  // the server's, whichever sink PulseAudio would pick
    }
    if (room) {
      // The room: the server plays into `server_out`; the student's voice plays into `speech_in`,
      // which the page's microphone hears; and `module-loopback` carries the speakers back into
      // that microphone `room.delayMs` later, at `room.gainDb` (set once it runs, below).
      modules.push('module-null-sink sink_name=server_out rate=48000 channels=1 channel_map=mono',
        'module-null-sink sink_name=speech_in rate=48000 channels=1 channel_map=mono',
        'module-remap-source source_name=mic master=speech_in.monitor channels=1 channel_map=mono',
        'module-null-sink sink_name=browser_out rate=48000 channels=2',
        `module-loopback source=server_out.monitor sink=speech_in latency_msec=${room.delayMs} source_dont_move=true sink_dont_move=true`);
      this.env.PULSE_SINK = 'server_out';
    }
    modules.push('module-native-protocol-unix auth-anonymous=1', 'module-always-sink');
    // 48 kHz throughout, as on most laptops (PulseAudio's default of 44.1 kHz would have Chromium
    // capture at 44.1 kHz and resample).
    mkdirSync(path.join(this.dir, '.config/pulse'), { recursive: true });
    writeFileSync(path.join(this.dir, '.config/pulse/daemon.conf'), 'default-sample-rate = 48000\n');
    this.spawn('pulseaudio', ['-n', '--daemonize=no', '--exit-idle-time=-1', '--use-pid-file=no', '--disable-shm=yes',
      ...modules.flatMap((m) => ['-L', m])], 'pulseaudio');
    for (let i = 0; i < 100 && !existsSync(path.join(this.runtime, 'pulse/native')); i++) await sleep(50);
    if (!existsSync(path.join(this.runtime, 'pulse/native'))) throw new Error('pulseaudio did not start');
    // A null sink nobody reads wakes only every second or two, so a stream restarted after an
    // underrun waits that long (the warm-up talk was heard 2 s late, and the output buffer grew
    // before any talk); a sound card is read at a steady pace, and so is the sink here.
    this.spawn('sh', ['-c', 'exec parec -d ptt_sink.monitor --latency-msec=10 > /dev/null'], 'sink-reader');
    if (room) {
      this.spawn('sh', ['-c', 'exec parec -d speech_in.monitor --latency-msec=10 > /dev/null'], 'room-reader');
      this.setRoomGain(room.gainDb);
    }
  }

  // The room's coupling: the loopback's volume, in dB (PulseAudio's own dB scale).
  setRoomGain(db) {
    const inputs = execFileSync('pactl', ['list', 'short', 'sink-inputs'], { env: this.env, encoding: 'utf8' });
    const loop = execFileSync('pactl', ['list', 'sink-inputs'], { env: this.env, encoding: 'utf8' })
      .split(/\n(?=Sink Input #)/).find((b) => /Loopback/i.test(b));
    const id = loop?.match(/Sink Input #(\d+)/)?.[1];
    if (!id) throw new Error(`no loopback sink input:\n${inputs}`);
    execFileSync('pactl', ['set-sink-input-volume', id, `${db}dB`], { env: this.env });
  }

  // port: 0 for any free one, or the port of a server this harness stopped (a restart).
  async startServer(extra = [], { port = 0 } = {}) {
    this.recordings = path.join(this.dir, 'recordings');
    // The page as shipped: embedded in the server. Tests run as root in CI, which the server
    // refuses without --allow-root.
    const asRoot = process.getuid?.() === 0 ? ['--allow-root'] : [];
    // Written once the port is bound and the audio device's callbacks come in real time (PulseAudio's
    // ALSA plugin holds a new stream ~1.5 s first): a talk from then on plays from its start.
    const readyFile = path.join(this.dir, 'ready.json');
    rmSync(readyFile, { force: true });
    this.server = this.spawn(serverBinary, ['--bind', '127.0.0.1', '--port', String(port), '--help-port', '0', '--state-dir', path.join(this.dir, 'state'),
      '--recordings', this.recordings, '--no-class-folders', '--device', 'pulse', '--ready-file', readyFile, ...asRoot, ...extra], 'server');
    const ready = await waitForReadyFile(readyFile, this.server, 10_000);
    if (!ready) throw new Error(`server did not start:\n${this.server.log}`);
    this.url = `https://localhost:${ready.port}/`;
    return this.url;
  }

  stopServer() { this.server?.kill('SIGTERM'); }

  // Stops the server and waits until its process has exited (its port is free again).
  async stopServerAndWait() {
    const s = this.server;
    if (!s || s.exitCode !== null || s.signalCode !== null) return;
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGTERM');
    await exited;
  }

  // The `speechMic` microphone plays `wav` over and over, from now on.
  playMic(wav) {
    this.spawn('sh', ['-c', `while :; do paplay -d speech_in '${wav}' || exit 1; done`], 'microphone');
  }

  startSinkRecording(file, channels = 1) {
    this.sinkFile = file;
    this.parec = spawn('sh', ['-c', `exec parec -d ptt_sink.monitor --rate=48000 --channels=${channels} --format=float32le --latency-msec=10 > '${file}'`],
      { env: this.env, stdio: 'ignore' });
  }

  // Once the server's log says talk `n` has played (or 15 s passed), and `settleMs` more, what the
  // sink recorded.
  async stopSinkRecordingAfterTalk(n, settleMs = 1000) {
    for (const end = performance.now() + 15000; !this.logs().includes(`talk ${n} played`) && performance.now() < end;) await sleep(100);
    await sleep(settleMs);
    return this.stopSinkRecording();
  }

  async stopSinkRecording() {
    const exited = new Promise((r) => this.parec.once('exit', r));
    this.parec.kill('SIGINT');
    await exited;
    return readFloat32(this.sinkFile);
  }

  // A Chromium whose microphone plays `wav` (or none: deny the microphone; or `pulseMic`: the
  // isolated PulseAudio's `mic` source, see startPulse).
  async browser({ wav, denyMicrophone = false, touch = false, pulseMic = false } = {}) {
    const profile = mkdtempSync(path.join(this.dir, 'profile-'));
    const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--autoplay-policy=no-user-gesture-required'];
    // A fake microphone is always there; denying means refusing the permission prompt.
    if (pulseMic) args.push('--use-fake-ui-for-media-stream');
    else args.push('--use-fake-device-for-media-stream');
    if (denyMicrophone) args.push('--deny-permission-prompts');
    else if (!pulseMic) args.push('--use-fake-ui-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`);
    const env = pulseMic ? { ...this.env, PULSE_SOURCE: 'mic', PULSE_SINK: 'browser_out' } : undefined;
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true, ignoreHTTPSErrors: true, args, env,
      viewport: { width: 390, height: 760 }, hasTouch: touch, isMobile: touch,
    });
    this.contexts.push(context);
    context.profile = profile;
    const page = context.pages()[0] ?? await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`[page] ${m.text()}`); });
    return page;
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    this.parec?.kill('SIGKILL');
    for (const child of this.children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    if (process.env.PTT_KEEP === '1') writeFileSync(path.join(this.dir, 'logs.txt'), this.logs());
    else rmSync(this.dir, { recursive: true, force: true });
  }

  logs() { return this.children.map((c) => `--- ${c.name}\n${c.log}`).join('\n'); }
}

// ptt-server's --ready-file ({port, https, pid}) once `child` has written it; null if the child
// exits first or `ms` pass. The server renames a complete file into place: once there, it is whole.
export async function waitForReadyFile(file, child, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
    if (child.exitCode !== null || child.signalCode !== null) return null;
  }
  return null;
}

export function readFloat32(file) {
  const buf = readFileSync(file);
  return new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
}

// Speech for a fake microphone (which loops the file): espeak-ng, trimmed of leading and trailing
// silence, then followed by `pauseS` of silence as a speaker's pause (without pauses speexdsp's
// denoiser would in time learn the endless speech as noise); plus the same at 48 kHz float.
export function makeSpeech(dir, name, text, pauseS = 0.8) {
  const raw = path.join(dir, `${name}-espeak.wav`);
  const wav = path.join(dir, `${name}.wav`);
  const f32 = path.join(dir, `${name}.f32`);
  execFileSync('espeak-ng', ['-w', raw, '-s', '165', text]);
  execFileSync('sox', [raw, wav, 'silence', '1', '0.02', '1%', 'reverse', 'silence', '1', '0.02', '1%', 'reverse',
    'pad', '0', String(pauseS)]);
  execFileSync('sox', [wav, '-r', '48000', '-c', '1', '-b', '32', '-e', 'floating-point', '-t', 'raw', f32]);
  return { wav, samples: readFloat32(f32) };
}

// The server's recording `<stem>.opus` (e.g. A-2: the packets of A's second talk as they came,
// decoded without the jitter stage: what the browser sent), as 48 kHz float samples; null if absent.
export function recordedTalk(h, stem) {
  const rec = readdirSync(h.recordings).find((f) => f === `${stem}.opus`);
  if (!rec) return null;
  const wav = path.join(h.dir, `rec-${stem}.wav`), f32 = path.join(h.dir, `rec-${stem}.f32`);
  execFileSync('opusdec', ['--quiet', '--rate', '48000', path.join(h.recordings, rec), wav]);
  execFileSync('sox', [wav, '-r', '48000', '-c', '1', '-b', '32', '-e', 'floating-point', '-t', 'raw', f32]);
  return readFloat32(f32);
}

export async function joinAs(page, url, name) {
  await page.goto(url);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('#app[data-state="ready"]').waitFor({ timeout: 15000 });
}

export const sleepMs = sleep;

// A TCP port free right now on localhost (for a second listener, or a driver's port).
export async function freePort() {
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  return port;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// A state of a page, photographed (a11y-<name>.png in the artifacts) and checked with axe-core
// (from npm, injected): no violation of any rule axe runs by default (WCAG 2 A and AA among them).
// `checked` collects the names.
export async function checkA11y(page, name, checked) {
  await sleep(250);  // transitions settle (colour contrast is measured on what is drawn)
  await page.screenshot({ path: path.join(artifacts, `a11y-${name}.png`) });
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => (await window.axe.run(document)).violations.map((v) =>
    `${v.id} (${v.impact}): ${v.help}; ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
  checked.push(name);
  assert.deepEqual(violations, [], `${name}: ${violations.join('\n')}`);
}

// Records what a page asks of the phone, from its next load: navigator.vibrate() patterns in
// window.__vibrations, and the frequency of each oscillator it starts (its tones) in window.__tones.
export async function recordPhoneFeedback(page) {
  await page.addInitScript(() => {
    window.__vibrations = [];
    navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
    window.__tones = [];
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function (...args) { window.__tones.push(this.frequency.value); return start.apply(this, args); };
  });
}

// Waits until the page shows state `s` (the session's state, on #app's data-state).
export async function waitState(page, s, timeout = 5000) {
  await page.locator(`#app[data-state="${s}"]`).waitFor({ timeout });
}

// The pid of the Chromium behind `page` (its browser process, the parent of its renderers).
export function browserPid(page) {
  const profile = page.context().profile;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline;
    try { cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (cmdline.some((a) => a === `--user-data-dir=${profile}`) && !cmdline.some((a) => a.startsWith('--type='))) return Number(name);
  }
  throw new Error(`no Chromium process for ${profile}`);
}
