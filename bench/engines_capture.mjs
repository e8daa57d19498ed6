#!/usr/bin/env node
// Mouth-to-ear per browser engine (tests/browser/engines.mjs: Chromium, Firefox, WebKit), and
// the part of it inside the browser's capture path. A click train is played into the PulseAudio
// microphone each engine opens; the server plays into the same isolated null sink, whose left
// channel holds what entered the microphone and its right what the speakers played, so one
// recording gives each click's mouth-to-ear delay. The server's per-talk report gives
// capture-to-playout: from the sample entering the page's audio graph (the page's stamp) to the
// speaker. What is left is the engine's own capture path (device, sound server, the browser's
// buffers before the graph). Needs both builds. Usage: node bench/engines_capture.mjs [talks=3]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Harness, readFloat32, sleepMs } from '../tests/browser/harness.mjs';
import { ENGINES, joinRetrying } from '../tests/browser/engines.mjs';
import { clickTrain, clickDelays, envelope } from './clicks.mjs';

const talks = Number(process.argv[2] ?? 3), seconds = 6;
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const quantile = (v, q) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

const h = new Harness();
const rows = [];
try {
  await h.startPulse({ loopbackMic: true });
  const url = await h.startServer(['--log-level', 'debug']);  // each talk's audio figures
  const clicks = path.join(h.dir, 'clicks.wav');
  clickTrain(clicks, seconds);
  let talkCount = 0;
  for (const engine of ENGINES) {
    const student = await joinRetrying(engine, h, url, `Bench-${engine}`);
    const delays = [], c2p = [];
    let onsets = 0;
    try {
      for (let t = 0; t <= talks; t++) {  // talk 0 warms the engine's audio path up, unmeasured
        const rec = path.join(h.dir, `sink-${engine}-${t}.raw`);
        h.startSinkRecording(rec, 2);
        await sleepMs(300);
        await student.down();
        await student.waitState('live', 5000);
        await sleepMs(500);
        const player = spawn('paplay', ['-d', 'click_in', clicks], { env: h.env, stdio: 'ignore' });
        await new Promise((r) => player.once('exit', r));
        await sleepMs(500);
        await student.up();
        await student.waitState('ready', 3000);
        talkCount += 1;
        for (const end = performance.now() + 10000; !h.logs().includes(`talk ${talkCount} audio:`) && performance.now() < end;) await sleepMs(100);
        await sleepMs(500);
        const stereo = await h.stopSinkRecording();
        if (t === 0) continue;
        const found = clickDelays(envelope(stereo, 0), envelope(stereo, 1));
        onsets += found.onsets;
        delays.push(...found.delays);
        const line = h.logs().split('\n').find((l) => l.includes(`talk ${talkCount} audio:`)) ?? '';
        const m = line.match(/capture-to-playout median (\d+(?:\.\d+)?) ms/);
        if (m) c2p.push(Number(m[1]));
      }
    } finally {
      await student.close();
    }
    const m2e = median(delays), server = median(c2p);
    rows.push({ engine, clicks: `${delays.length}/${onsets}`, m2e, p99: quantile(delays, 0.99), server, capture: m2e - server });
  }
} finally {
  await h.close();
}
console.log(`Per engine: ${talks} talks of ${seconds} s of clicks each (after one unmeasured), one student at a time, on loopback.`);
console.log('| engine | clicks heard | mouth-to-ear median | p99 | page to speaker (server: capture-to-playout median) | browser capture (the difference) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.engine} | ${r.clicks} | ${r.m2e} ms | ${r.p99} ms | ${r.server} ms | ${r.capture} ms |`);
