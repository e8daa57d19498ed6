#!/usr/bin/env node
// Mouth-to-ear latency through the whole real chain: a click train played into a PulseAudio
// microphone that headless Chromium captures (page, AudioWorklet, wasm, WebSocket over TLS), the
// real ptt-server (jitter buffer, Opus, PortAudio) playing into the same isolated null sink. The
// sink's left channel holds what entered the microphone, its right what the server played, so one
// recording measures each click's delay by cross-correlating the two (from the audio itself).
// The stages: the recorder (bench/sink_recorder) dates the recording on the wall clock, and a probe
// in the page's own AudioContext dates each click's arrival in the page's audio graph on the same
// clock (capture); the server's per-talk report gives the in-band figures from there (the page
// stamps packets on the worklet's render clock; arrival and playout on the server's); PortAudio and
// PulseAudio state the output's buffers. Each stage is measured on its own, so their sum checks the
// total.
// The quiet talks run twice, from a page sending 20 ms packets (the default) and from one sending
// 10 ms packets (?packet=10), each with its stages and the bytes its talks put on the wire.
// Needs both builds. Usage: node bench/mouth_to_ear.mjs [seconds per talk=8] [contention rows: a regex]
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { Harness, joinAs, sleepMs, readFloat32, root, browserPid, makeSpeech } from '../tests/browser/harness.mjs';
import { envelope as envelope10ms, firstTalk, matchTalk } from '../tests/browser/speech_match.mjs';
import { clickTrain, envelope, clickDelays } from './clicks.mjs';

const seconds = Number(process.argv[2] ?? 8), runs = 3;
// The preprocessor's overlap (shared/src/capture_pipeline.cpp runs speexdsp on 5 ms frames).
const lookaheadMs = 5;
const rate = 48000;
const quantile = (v, q) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

// Bench-only instrument, injected before the page loads: whatever microphone source the page makes
// also feeds a probe worklet in the same AudioContext (same render thread, same input FIFO as the
// app's worklet) which dates each click's onset on the render clock, as the app's worklet dates its
// packets: context time plus the smallest Date.now() - currentTime seen over the last second.
const probe = () => {
  const code = `registerProcessor('bench-probe', class extends AudioWorkletProcessor {
    constructor() { super(); this.gap = Infinity; this.cur = Infinity; this.since = 0; this.last = -1; }
    process(inputs) {
      this.cur = Math.min(this.cur, Date.now() - currentTime * 1000);
      if (currentTime - this.since >= 1) { this.gap = this.cur; this.cur = Infinity; this.since = currentTime; }
      const x = inputs[0]?.[0];
      for (let i = 0; x && i < x.length; i++) {
        if (Math.abs(x[i]) < 0.05) continue;
        const t = currentTime + i / sampleRate;
        if (t - this.last > 0.3) this.port.postMessage({ wallMs: t * 1000 + Math.min(this.gap, this.cur) });
        this.last = t;
      }
      return true;
    }
  });`;
  const original = AudioContext.prototype.createMediaStreamSource;
  AudioContext.prototype.createMediaStreamSource = function (stream) {
    const source = original.call(this, stream);
    // The page makes a new source at each press (app.js, joinMicrophone): one probe per source, the
    // module loaded once.
    this.benchProbe ??= this.audioWorklet.addModule(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    this.benchProbe.then(() => {
      const node = new AudioWorkletNode(this, 'bench-probe');
      node.port.onmessage = ({ data }) => (window.benchOnsets ??= []).push(data.wallMs);
      const mute = this.createGain();
      mute.gain.value = 0;
      source.connect(node).connect(mute).connect(this.destination);
    });
    return source;
  };
};

// Bench-only instrument for the "before" of the send path: the page's socket worker
// (socket-worker.js) run on the page's main thread instead, as the page sent its packets before the
// worker existed. The worker's own script is loaded and run with a local onmessage/postMessage, so
// the code that sends is the same; only the thread differs.
const socketOnMainThread = () => {
  const RealWorker = window.Worker;
  window.Worker = function (url, options) {
    if (!String(url).includes('socket-worker.js')) return new RealWorker(url, options);
    const base = new URL(url, location.href);
    const fake = { onmessage: null, onerror: null };
    let deliver = null;
    const pending = [];
    fake.postMessage = (data, transfer = []) => {
      const event = { data, ports: transfer.filter((t) => t instanceof MessagePort) };
      if (deliver) setTimeout(() => deliver(event));
      else pending.push(event);
    };
    fetch(base).then((r) => r.text()).then(async (src) => {
      src = src.replace(/import\s*\{([^}]*)\}\s*from\s*'([^']*)';/g,
        (m, names, rel) => `const {${names}} = await import('${new URL(rel, base)}');`);
      const AsyncFunction = (async () => {}).constructor;
      const run = new AsyncFunction('postMessage', `let onmessage;\n${src}\nreturn onmessage;`);
      const handler = await run((data) => setTimeout(() => fake.onmessage?.({ data })));
      deliver = handler;
      for (const event of pending.splice(0)) setTimeout(() => deliver(event));
    });
    return fake;
  };
};

// Bench-only instrument for the page-side settings: the AudioContext the page makes is made with
// another latencyHint (the page asks for 25 ms buffers).
const latencyHint = (hint) => {
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(options = {}) { super({ ...options, latencyHint: hint }); }
  };
};

// Bench-only instrument: the page's getUserMedia asked for a capture latency (seconds) besides its
// own constraints; what the track then reports is kept for the bench to print.
const captureLatency = (latency) => {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await original({ ...constraints, audio: { ...constraints.audio, latency } });
    window.benchTrackSettings = stream.getAudioTracks()[0]?.getSettings();
    return stream;
  };
};

// Onsets (sample index) in one channel: the first sample above 0.05 after 300 ms below it.
function onsetsIn(stereo, channel) {
  const found = [];
  let last = -Infinity;
  for (let i = 0; i < stereo.length / 2; i++) {
    if (Math.abs(stereo[2 * i + channel]) < 0.05) continue;
    if (i - last > 0.3 * rate) found.push(i);
    last = i;
  }
  return found;
}

const recorderBinary = path.join(root, 'build/native/bench/sink_recorder');
const injector = path.join(root, 'build/native/tests/support/ptt_stall_injector');
// The whole server process's CPU time so far (ms): utime + stime of /proc/<pid>/stat, in ticks of 10 ms.
let h;
function serverCpuMs() {
  const fields = readFileSync(`/proc/${h.server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
// The same per thread name: ptt-server (main and I/O), ptt-audio (the PortAudio callback),
// threaded-ml (libpulse's relay for PulseAudio's ALSA plugin), ptt-watchdog.
function serverThreadsMs() {
  const byName = {};
  for (const task of readdirSync(`/proc/${h.server.pid}/task`)) {
    let stat;
    try { stat = readFileSync(`/proc/${h.server.pid}/task/${task}/stat`, 'utf8'); } catch { continue; }  // ended
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.split(') ')[1].split(' ');
    byName[name] = (byName[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return byName;
}
// What the students' connections have put on the wire towards the server so far: TCP payload
// (TLS records of WebSocket frames) plus 52 bytes of IPv4 and TCP headers (with timestamps) per
// segment, from the kernel's counters for the server's port (ss).
let port;
function wireBytesIn() {
  const out = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  let bytes = 0;
  for (const m of out.matchAll(/bytes_received:(\d+)[^\n]*?segs_in:(\d+)/g)) bytes += Number(m[1]) + 52 * Number(m[2]);
  return bytes;
}
h = new Harness();
try {
  await h.startPulse({ loopbackMic: true });
  // Each talk's audio figures; the device closes after 3 s without a talk (the default is 10 s),
  // so the idle figure below is measured both ways and the first talk after it reopens the device.
  const url = await h.startServer(['--log-level', 'debug', '--standby-after', '3']);
  port = Number(new URL(url).port);
  const clicks = path.join(h.dir, 'clicks.wav');
  clickTrain(clicks, seconds);
  // Two students on the same microphone: one page sends 20 ms packets, the other 10 ms ones.
  const student = async (name, query, ...instruments) => {
    const page = await h.browser({ pulseMic: true });
    await page.addInitScript(probe);
    for (const [fn, arg] of instruments) await page.addInitScript(fn, arg);
    await joinAs(page, `${url}${query}`, name);
    const box = await page.locator('#talk').boundingBox();
    return { page, x: box.x + box.width / 2, y: box.y + box.height / 2 };
  };
  const twenty = await student('Bench', ''), ten = await student('Bench10', '?packet=10');
  // At most two browsers at a time: each records the same PulseAudio source, and with four the
  // rig's own capture and output delays grew several-fold (measured: capture 37 -> 220 ms).
  const leave = async (who) => { await who.page.context().close(); };
  const page = twenty.page;
  await sleepMs(1000);

  // Buffer + device latency (ms) of the stream whose application.name matches.
  const streamLatency = (list, app) => {
    const block = list.split(/\n(?=\S)/).find((b) => b.includes(`application.name = "${app}`));
    if (!block) return NaN;
    const us = [...block.matchAll(/(?:Buffer|Sink|Source) Latency: (\d+) usec/g)].reduce((s, m) => s + Number(m[1]), 0);
    return us / 1000;
  };

  // A sentence, for the rows' speech figure: how well the speakers' output follows the microphone.
  const speech = makeSpeech(h.dir, 'speech', 'push to talk lets one student speak at a time while the professor hears every word clearly through the speakers of the lecture hall', 0.3);

  // One talk with the click train (or `sound`); returns the click delays (or, for speech, the
  // envelope correlation of what was played with what the microphone heard) and the server's
  // report of the talk.
  const talk = async (n, measured, rigArgs = null, sound = clicks, who = twenty, busyMain = false) => {
    const { page } = who;
    // A busy main thread: the page's own thread blocked 50 ms every 200 ms, as a heavy page or a
    // slow phone would.
    if (busyMain) await page.evaluate(() => {
      window.benchBusy = setInterval(() => { for (const end = performance.now() + 50; performance.now() < end;); }, 200);
    });
    await page.mouse.move(who.x, who.y);
    const rec = path.join(h.dir, `sink-${n}.raw`);
    const recorder = spawn(recorderBinary, ['ptt_sink.monitor', '2', rec], { env: h.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let recorderOut = '';
    recorder.stdout.on('data', (d) => { recorderOut += d; });
    await page.evaluate(() => { window.benchOnsets = []; });
    await sleepMs(300);
    // The contention rig (bench and tests share it) runs from before the press to the release.
    const rig = rigArgs ? spawn(injector, ['--seed', String(n), ...rigArgs()], { stdio: 'ignore' }) : null;
    const reopenedBefore = h.server.log.split('\n').filter((l) => l.includes('audio device reopened')).length;
    const cpuBefore = serverCpuMs(), wireBefore = wireBytesIn(), talkStart = performance.now();
    await page.mouse.down();
    await page.locator('#app[data-state="live"]').waitFor({ timeout: 5000 });
    await sleepMs(500);
    const player = spawn('paplay', ['-d', 'click_in', sound], { env: h.env, stdio: 'ignore' });
    await sleepMs(3000);
    // PulseAudio's own view of the two streams mid-talk: what Chromium's recording and the
    // server's playback hold in buffers (the parts of the chain outside our code).
    const pactl = (what) => execFileSync('pactl', ['list', what], { env: h.env, encoding: 'utf8' });
    const pulse = { sinkInputs: pactl('sink-inputs'), sourceOutputs: pactl('source-outputs') };
    await new Promise((r) => player.once('exit', r));
    await sleepMs(500);
    await page.mouse.up();
    if (busyMain) await page.evaluate(() => clearInterval(window.benchBusy));
    const talkCpuMs = serverCpuMs() - cpuBefore, talkMs = performance.now() - talkStart;
    const wireKbps = ((wireBytesIn() - wireBefore) * 8) / talkMs;
    if (rig) {
      rig.kill('SIGTERM');
      await new Promise((r) => (rig.exitCode !== null ? r() : rig.once('exit', r)));
    }
    await sleepMs(1500);  // the talk drains and the server logs its report
    const recorded = new Promise((r) => recorder.once('exit', r));
    recorder.kill('SIGINT');
    await recorded;
    const stereo = readFloat32(rec);
    if (!measured) return null;
    let speechMatch = null;
    if (sound !== clicks) {
      const channel = (c) => Float32Array.from({ length: stereo.length >> 1 }, (_, i) => stereo[2 * i + c]);
      const mic = channel(0), outEnv = envelope10ms(channel(1));
      const [m1, m2] = firstTalk(envelope10ms(mic), 150, 0), [o1, o2] = firstTalk(outEnv, 150, 0);
      speechMatch = matchTalk(outEnv.slice(o1, o2 + 1), mic.subarray(m1 * 480, (m2 + 1) * 480));
      speechMatch.saidS = (m2 - m1 + 1) / 100;
    }
    // Capture: each click entering the microphone (the sink's left channel, dated by the recorder)
    // to its onset in the page's audio graph (the probe), on the wall clock.
    const firstUs = Number(recorderOut.match(/first_sample_wall_us=(-?\d+)/)?.[1]);
    const datingSpreadMs = (Number(recorderOut.match(/median_us=(-?\d+)/)?.[1]) - firstUs) / 1000;
    const pageOnsets = await page.evaluate(() => window.benchOnsets);
    const capture = [];
    for (const i of onsetsIn(stereo, 0)) {
      const micMs = firstUs / 1000 + (i / rate) * 1000;
      const seen = pageOnsets.find((ms) => ms - micMs > -5 && ms - micMs < 400);
      if (seen !== undefined) capture.push(seen - micMs);
    }
    const report = h.server.log.split('\n').filter((l) => /talk \d+ audio:/.test(l)).at(-1) ?? '';
    const reopened = h.server.log.split('\n').filter((l) => l.includes('audio device reopened')).length > reopenedBefore;
    const num = (re) => { const m = report.match(re); return m ? Number(m[1]) : NaN; };
    return {
      ...(speechMatch ? { onsets: 0, delays: [], speech: speechMatch } : clickDelays(envelope(stereo, 0), envelope(stereo, 1))),
      capture: quantile(capture, 0.5), captureMatched: capture.length, datingSpreadMs,
      pulseIn: streamLatency(pulse.sourceOutputs, 'Chromium input'),
      pulseOut: streamLatency(pulse.sinkInputs, 'ALSA plug-in [ptt-server]'),
      c2p: num(/capture-to-playout median (\d+(?:\.\d+)?) ms/), c2pP99: num(/capture-to-playout median [\d.]+ ms, p99 (\d+(?:\.\d+)?) ms/),
      a2p: num(/arrival-to-playout median (\d+(?:\.\d+)?) ms/), c2a: num(/capture-to-arrival median (\d+(?:\.\d+)?) ms/),
      c2aP99: num(/capture-to-arrival median [\d.]+ ms, p99 (\d+(?:\.\d+)?) ms/),
      c2aJitter: num(/capture-to-arrival median [\d.]+ ms, p99 (\d+(?:\.\d+)?) ms/) - num(/capture-to-arrival median (\d+(?:\.\d+)?) ms/),
      device: num(/incl\. (\d+(?:\.\d+)?) ms device latency/),
      played: num(/audio: (\d+) packets/), latePlayed: num(/\((\d+) of them after their time\)/),
      concealed: num(/(\d+) concealed/), skippedSilence: num(/skipping (\d+) silent packets/),
      compressedMs: num(/compressing (\d+) ms of speech/), dropped: num(/dropped (\d+) late/) + num(/, (\d+) to cut delay/),
      underruns: num(/(\d+) output underruns/), cpuPct: (100 * talkCpuMs) / talkMs, wireKbps, reopened,
    };
  };
  await talk(0, false);  // warm-up: PulseAudio's first seconds of a new stream are not real time
  await talk(0, false, null, clicks, ten);
  // The whole server process idle (two students connected, nobody talking), and which of its
  // threads spend it: first with the device still open (the 1 s after a talk's report, before
  // standby), then with it closed (10 s).
  const idleOver = async (ms) => {
    const cpuBefore = serverCpuMs(), threadsBefore = serverThreadsMs(), start = performance.now();
    await sleepMs(ms);
    const took = performance.now() - start;
    const threads = Object.entries(serverThreadsMs()).map(([name, t]) => [name, (100 * (t - (threadsBefore[name] ?? 0))) / took]);
    return { pct: (100 * (serverCpuMs() - cpuBefore)) / took,
             threads: threads.filter(([, pct]) => pct > 0).map(([name, pct]) => `${name} ${pct.toFixed(2)} %`).join(', ') };
  };
  const standbys = () => h.server.log.split('\n').filter((l) => l.includes('audio device closed after')).length;
  const closedBefore = standbys();
  const idleOpen = await idleOver(1000);
  const openWasOpen = standbys() === closedBefore;
  for (const end = performance.now() + 5000; standbys() === closedBefore && performance.now() < end;) await sleepMs(100);
  const idleClosed = await idleOver(10000);
  const idleCpuPct = idleClosed.pct;
  console.log(`Server process CPU idle (2 students connected, nobody talking): device open ${idleOpen.pct.toFixed(2)} % of a core` +
              `${openWasOpen ? '' : ' (it closed during the second)'} (by thread: ${idleOpen.threads}); ` +
              `device closed after 3 s without a talk (standby, 10 s): ${idleClosed.pct.toFixed(2)} % (by thread: ${idleClosed.threads || 'none'})`);
  // The quiet talks of one page, with their stages; returns the talks and the figures for RESULT.
  const quietTalks = async (who, packetMs, first, setting = '') => {
    const talks = [];
    for (let n = 1; n <= runs; n++) talks.push(await talk(first + n, true, null, clicks, who));
    const avg = (key) => talks.reduce((s, t) => s + t[key], 0) / talks.length;
    const delays = talks.flatMap((t) => t.delays), onsets = talks.reduce((s, t) => s + t.onsets, 0);
    const capture = avg('capture'), pulseIn = avg('pulseIn'), pulseOut = avg('pulseOut'), c2p = avg('c2p'), c2pP99 = Math.max(...talks.map((t) => t.c2pP99));
    const a2p = avg('a2p'), c2a = avg('c2a'), device = avg('device');
    // A packet's first sample waits for the packet and the preprocessor's one frame of overlap.
    const frameMs = packetMs + lookaheadMs;
    const median = quantile(delays, 0.5), p99 = quantile(delays, 0.99);
    const stages = [
      [`capture: microphone to the page's audio graph (sink to probe; PulseAudio's buffer ${pulseIn.toFixed(1)} of it)`, capture],
      [`frame + encode: ${packetMs} ms packet, ${lookaheadMs} ms preprocessing lookahead (by design)`, frameMs],
      ['network: the rest of render clock to server arrival (in-band)', c2a - frameMs],
      ['jitter buffer: arrival to the PortAudio callback (in-band)', a2p - device],
      [`output: callback to the sink, as the device reports it per callback (pactl: ${pulseOut.toFixed(1)})`, device],
    ];
    const sum = stages.reduce((s, [, v]) => s + v, 0);
    // Like each stage, the total the sum is checked against is the mean of the talks' medians.
    const total = talks.reduce((x, t) => x + quantile(t.delays, 0.5), 0) / talks.length;
    console.log(`Mouth-to-ear with ${packetMs} ms packets${setting}, click train through Chromium, ptt-server and PulseAudio (${runs} talks after a warm-up; ${delays.length} of ${onsets} clicks matched)`);
    console.log(`  from the audio (click in -> click out):   median ${median.toFixed(1)} ms  p99 ${p99.toFixed(1)} ms  (talk by talk: ${talks.map((t) => quantile(t.delays, 0.5).toFixed(0)).join(', ')} ms)`);
    console.log(`  in-band (page's audio graph -> playout):  median ${c2p.toFixed(1)} ms  p99 ${c2pP99.toFixed(1)} ms  (server's talk report; ` +
                `arrival jitter p99 - median ${avg('c2aJitter').toFixed(1)} ms)`);
    // No playout can be earlier than the latest arrival it must wait for plus the device's own
    // buffer: the floor of the in-band figure, before any choice the jitter stage makes.
    const c2aP99 = avg('c2aP99');
    console.log(`  floor of the in-band figure on this rig: capture-to-arrival p99 ${c2aP99.toFixed(1)} ms (the packet, the lookahead and the browser's ` +
                `callback burst, before the server touches it) + output ${device.toFixed(1)} ms = ${(c2aP99 + device).toFixed(1)} ms; ` +
                `the in-band median is ${(c2p - (c2aP99 + device)).toFixed(1)} ms from it`);
    console.log(`  on the wire, student to server: ${avg('wireKbps').toFixed(1)} kbit/s over a talk (TLS, WebSocket, TCP/IP headers included); ` +
                `server process CPU while talking: ${avg('cpuPct').toFixed(2)} % of a core (idle: ${idleOpen.pct.toFixed(2)} % with the device open, ${idleCpuPct.toFixed(2)} % standing by)`);
    console.log(`  recorder's dating of the sink: earliest vs median reading ${avg('datingSpreadMs').toFixed(1)} ms apart; ${talks.reduce((x, t) => x + t.captureMatched, 0)} clicks dated in the page`);
    console.log(`  stages (each the mean of the ${runs} talks' medians):`);
    for (const [name, v] of stages) console.log(`    ${name.padEnd(72)} ${v.toFixed(1).padStart(6)} ms`);
    console.log(`    ${'sum of the stages'.padEnd(72)} ${sum.toFixed(1).padStart(6)} ms`);
    console.log(`    ${'measured from the audio (the same mean of the talks\' medians)'.padEnd(72)} ${total.toFixed(1).padStart(6)} ms  (the sum is ${((100 * (sum - total)) / total).toFixed(1)} % from it)`);
    for (const [i, t] of talks.entries())
      console.log(`  talk ${i + 1}${t.reopened ? ' (reopened the device from standby)' : ''}: first click heard ${t.delays[0] ?? '-'} ms; total ${quantile(t.delays, 0.5)} ms = capture ${t.capture.toFixed(1)} + frame ${frameMs} + network ${(t.c2a - frameMs).toFixed(1)} + jitter ${(t.a2p - t.device).toFixed(1)} + output ${t.device.toFixed(1)} (stage medians)`);
    return { talks, median, p99, sum, total, delays, onsets, c2p, c2pP99, capture };
  };
  const q20 = await quietTalks(twenty, 20, 0);
  const q10 = await quietTalks(ten, 10, 50);
  const speech10 = await talk(100 - 2, true, null, speech.wav, ten);
  await leave(ten);
  // The same 10 ms page with the browser's smallest audio buffers ('interactive').
  const tenInteractive = await student('Bench10i', '?packet=10', [latencyHint, 'interactive']);
  await sleepMs(2000);
  await talk(0, false, null, clicks, tenInteractive);
  const q10i = await quietTalks(tenInteractive, 10, 70, ' and the browser\'s smallest audio buffers (latencyHint \'interactive\'; the page asks for 25 ms)');
  await leave(tenInteractive);
  // The same 10 ms page asking getUserMedia for a 10 ms capture latency.
  const tenLatency = await student('Bench10l', '?packet=10', [captureLatency, 0.01]);
  await sleepMs(2000);
  await talk(0, false, null, clicks, tenLatency);
  const settings = await tenLatency.page.evaluate(() => window.benchTrackSettings);
  const q10l = await quietTalks(tenLatency, 10, 75, ` and getUserMedia asked for { latency: 0.01 } (the track reports latency ${settings?.latency ?? 'unknown'} s)`);
  await leave(tenLatency);
  // A 20 ms page whose socket runs on the main thread (the send path before its worker).
  const mainThread = await student('BenchMain', '', [socketOnMainThread]);
  await sleepMs(2000);  // a browser starting takes a core for a while: not part of the measure

  // The send path off the main thread: the page's main thread blocked 50 ms every 200 ms, packets
  // sent by the socket worker (the page) and by the same code on the main thread (before the
  // worker), same run. Arrival jitter is the server's capture-to-arrival p99 less its median; the
  // jitter stage's start delay follows what the talks before taught it (arrival to playout).
  console.log('Send path with the main thread busy (blocked 50 ms every 200 ms), 20 ms packets, 2 talks each, worker first:');
  console.log('  | socket on | talk | capture-to-arrival median | p99 | arrival jitter (p99 - median) | arrival to playout (jitter stage + output) | concealed |');
  console.log('  |---|---|---|---|---|---|---|');
  const busy = {};
  for (const [label, who, first] of [['worker (the page)', twenty, 80], ['main thread (before)', mainThread, 85], ['worker (the page)', twenty, 90]]) {
    const ts = [];
    for (let n = 1; n <= 2; n++) ts.push(await talk(first + n, true, null, clicks, who, true));
    for (const [i, t] of ts.entries())
      console.log(`  | ${label} | ${i + 1} | ${t.c2a} ms | ${t.c2aP99} ms | ${t.c2aJitter.toFixed(0)} ms | ${t.a2p} ms | ${t.concealed} |`);
    (busy[label] ??= []).push(...ts);
  }
  await leave(mainThread);
  const busyJitter = (label) => quantile(busy[label].map((t) => t.c2aJitter), 0.5);
  const { talks, median, p99, sum, total, delays, onsets } = q20;
  // The same talks on a busy laptop, beside the quiet ones above (same run, same server): every
  // core spinning at normal priority, then the browser and the server frozen 50 ms at a time, 20 %
  // of the time each (ptt_stall_injector, as browser.stalls). Clicks come every 500 ms, so one is
  // matched only within 400 ms of its input: a click missed is one not heard within 400 ms (late,
  // or lost), and the delays are those of the clicks matched. Packets dropped would be speech the
  // server threw away.
  const rows = [['quiet', [...talks, await talk(100 - 1, true, null, speech.wav)]],
                ['quiet, 10 ms packets', [...q10.talks, speech10]]];
  const contention = [
    ['hog (every core)', () => ['--hog', String(os.availableParallelism())]],
    ['stalls 50 ms, 20 % (browser + server)', () => ['--duty', '0.2', '--burst-ms', '50', `tree:${browserPid(page)}`, String(h.server.pid)]],
  ];
  for (const [name, rigArgs] of contention.filter(([name]) => name.match(process.argv[3] ?? ''))) {
    const row = [];
    for (let n = 1; n <= runs; n++) row.push(await talk(100 * rows.length + n, true, rigArgs));
    row.push(await talk(100 * rows.length + runs + 1, true, rigArgs, speech.wav));
    rows.push([name, row]);
  }
  const sumOf = (ts, key) => ts.reduce((x, t) => x + t[key], 0);
  console.log(`Contention (per row: ${runs} talks of ${seconds} s of clicks, then one of a ${speech.samples.length / rate} s sentence; server CPU is the whole process, per talk;`);
  console.log('  speech: envelope correlation of the speakers with the microphone, median (mean) of 400 ms windows, as browser.stalls measures it; packets: all the row\'s talks):');
  console.log('  in-band: capture to arrival, then arrival to the sink (jitter buffer and output), each the mean of the row\'s talks\' medians):');
  console.log('  | row | clicks missed | mouth-to-ear median | p99 | speech | in-band | packets played | after their time | concealed | silence skipped | compressed | dropped | output underruns | server CPU |');
  console.log('  |---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, ts] of rows) {
    const d = ts.flatMap((t) => t.delays), sp = ts.find((t) => t.speech)?.speech;
    const heard = sp ? `${sp.best.toFixed(2)} (${sp.mean.toFixed(2)}), ${sp.heardS.toFixed(1)} of ${sp.saidS.toFixed(1)} s` : '-';
    console.log(`  | ${name} | ${sumOf(ts, 'onsets') - d.length} of ${sumOf(ts, 'onsets')} | ${quantile(d, 0.5).toFixed(0)} ms | ${quantile(d, 0.99).toFixed(0)} ms | ${heard} | ` +
      `${(sumOf(ts, 'c2a') / ts.length).toFixed(0)} + ${(sumOf(ts, 'a2p') / ts.length).toFixed(0)} ms | ` +
      `${sumOf(ts, 'played')} | ${sumOf(ts, 'latePlayed')} | ${sumOf(ts, 'concealed')} | ${sumOf(ts, 'skippedSilence')} | ${sumOf(ts, 'compressedMs')} ms | ` +
      `${sumOf(ts, 'dropped')} | ${sumOf(ts, 'underruns')} | ${(sumOf(ts, 'cpuPct') / ts.length).toFixed(1)} % |`);
  }
  console.log(`RESULT mouth_to_ear median_ms=${median.toFixed(1)} p99_ms=${p99.toFixed(1)} stage_sum_ms=${sum.toFixed(1)} total_ms=${total.toFixed(1)}`);
  console.log(`RESULT mouth_to_ear_10ms_interactive median_ms=${q10i.median.toFixed(1)} p99_ms=${q10i.p99.toFixed(1)} in_band_ms=${q10i.c2p.toFixed(1)} in_band_p99_ms=${q10i.c2pP99.toFixed(1)}`);
  console.log(`RESULT mouth_to_ear_10ms_capture_latency median_ms=${q10l.median.toFixed(1)} p99_ms=${q10l.p99.toFixed(1)} in_band_ms=${q10l.c2p.toFixed(1)} capture_ms=${q10l.capture.toFixed(1)}`);
  console.log(`RESULT busy_main_thread arrival_jitter_worker_ms=${busyJitter('worker (the page)').toFixed(1)} arrival_jitter_main_ms=${busyJitter('main thread (before)').toFixed(1)}`);
  console.log(`RESULT mouth_to_ear_10ms median_ms=${q10.median.toFixed(1)} p99_ms=${q10.p99.toFixed(1)} in_band_ms=${q10.c2p.toFixed(1)} in_band_p99_ms=${q10.c2pP99.toFixed(1)} ` +
              `vs_20ms=${(q10.median - median).toFixed(1)}`);
  if (delays.length < onsets / 2) process.exitCode = 1;
} finally {
  await h.close();
}
