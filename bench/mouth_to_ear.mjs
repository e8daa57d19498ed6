#!/usr/bin/env node
// Mouth-to-ear latency through the whole real chain: a click train played into a PulseAudio
// microphone that headless Chromium captures (page, AudioWorklet, wasm, WebSocket over TLS), the
// real ptt-server (jitter buffer, Opus, PortAudio) playing into the same isolated null sink. The
// sink's left channel holds what entered the microphone, its right what the server played, so one
// parec recording measures each click's delay by cross-correlating the two (from the audio itself).
// The server's per-talk report gives the in-band figures (capture and arrival timestamps, with the
// ping/pong clock offset), from which the stages are broken down.
// Needs both builds. Usage: node bench/mouth_to_ear.mjs [seconds=12]
import { writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { Harness, joinAs, sleepMs, readFloat32 } from '../tests/browser/harness.mjs';

const seconds = Number(process.argv[2] ?? 12);
const rate = 48000, period = 0.5, clickS = 0.04;
const quantile = (v, q) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

// A voiced click (harmonics of 220 Hz, 1 ms attack, 40 ms) every 500 ms: speech-like, so the
// student's VAD sends it and the denoiser keeps it.
function clickTrain(file) {
  const n = Math.round(seconds * rate);
  const pcm = new Int16Array(n);
  for (let start = Math.round(0.5 * rate); start + clickS * rate < n; start += Math.round(period * rate)) {
    for (let i = 0; i < clickS * rate; i++) {
      const t = i / rate;
      const env = Math.min(1, t / 0.001) * Math.min(1, (clickS - t) / 0.01);
      let v = 0;
      for (let h = 1; h <= 10; h++) v += Math.sin(2 * Math.PI * 220 * h * t) / h;
      pcm[start + i] = Math.round(12000 * env * v / 2);
    }
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + n * 2, 4); header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 2, 28); header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34); header.write('data', 36); header.writeUInt32LE(n * 2, 40);
  writeFileSync(file, Buffer.concat([header, Buffer.from(pcm.buffer)]));
}

// 1 ms RMS envelope of one channel of interleaved stereo.
function envelope(stereo, channel) {
  const frames = Math.floor(stereo.length / 2), step = rate / 1000, env = new Float64Array(Math.floor(frames / step));
  for (let k = 0; k < env.length; k++) {
    let e = 0;
    for (let i = k * step; i < (k + 1) * step; i++) e += stereo[2 * i + channel] ** 2;
    env[k] = Math.sqrt(e / step);
  }
  return env;
}

// Each click's onset in the input (ms), and its delay to the output: the lag (0 to 400 ms) that best
// correlates the input envelope around the click with the output's.
function clickDelays(inEnv, outEnv) {
  const peak = Math.max(...inEnv), onsets = [];
  for (let k = 1; k < inEnv.length; k++)
    if (inEnv[k] > 0.2 * peak && inEnv[k - 1] <= 0.2 * peak && (onsets.length === 0 || k - onsets.at(-1) > 200)) onsets.push(k);
  const delays = [];
  for (const on of onsets) {
    const a = Array.from(inEnv.subarray(Math.max(0, on - 10), on + 60));
    let best = -1, bestLag = -1;
    for (let lag = 0; lag <= 400 && on - 10 + lag + a.length <= outEnv.length; lag++) {
      let ab = 0, aa = 0, bb = 0;
      const ma = a.reduce((x, y) => x + y, 0) / a.length;
      let mb = 0;
      for (let i = 0; i < a.length; i++) mb += outEnv[on - 10 + lag + i];
      mb /= a.length;
      for (let i = 0; i < a.length; i++) {
        const x = a[i] - ma, y = outEnv[on - 10 + lag + i] - mb;
        ab += x * y; aa += x * x; bb += y * y;
      }
      const c = ab / Math.sqrt(aa * bb + 1e-30);
      if (c > best) { best = c; bestLag = lag; }
    }
    if (best > 0.8) delays.push(bestLag);
  }
  return { onsets: onsets.length, delays };
}

const h = new Harness();
try {
  await h.startPulse({ loopbackMic: true });
  const url = await h.startServer();
  const clicks = path.join(h.dir, 'clicks.wav');
  clickTrain(clicks);
  const page = await h.browser({ pulseMic: true });
  await joinAs(page, url, 'Bench');
  // What Chromium says its capture adds (the in-band capture time starts at the worklet).
  const input = await page.evaluate(async () => {
    const s = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    const settings = s.getAudioTracks()[0].getSettings();
    s.getTracks().forEach((t) => t.stop());
    return settings.latency ?? null;
  });
  await sleepMs(1000);

  const rec = path.join(h.dir, 'sink.raw');
  h.startSinkRecording(rec, 2);
  await sleepMs(300);
  const box = await page.locator('#talk').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.locator('#app[data-state="live"]').waitFor({ timeout: 5000 });
  await sleepMs(500);
  const player = spawn('paplay', ['-d', 'click_in', clicks], { env: h.env, stdio: 'ignore' });
  await sleepMs(3000);
  // PulseAudio's own view of the two streams mid-talk: what Chromium's recording and the server's
  // playback hold in buffers (the parts of the chain outside our code).
  const pactl = (what) => execFileSync('pactl', ['list', what], { env: h.env, encoding: 'utf8' });
  const pulse = { sinkInputs: pactl('sink-inputs'), sourceOutputs: pactl('source-outputs') };
  await new Promise((r) => player.once('exit', r));
  await sleepMs(500);
  await page.mouse.up();
  await sleepMs(1500);  // the talk drains and the server logs its report
  const stereo = await h.stopSinkRecording();

  if (process.env.PTT_DEBUG) console.log(pulse.sinkInputs, pulse.sourceOutputs);
  // Buffer + device latency (ms) of the stream whose application.name matches.
  const streamLatency = (list, app) => {
    const block = list.split(/\n(?=\S)/).find((b) => b.includes(`application.name = "${app}`));
    if (!block) return NaN;
    const us = [...block.matchAll(/(?:Buffer|Sink|Source) Latency: (\d+) usec/g)].reduce((s, m) => s + Number(m[1]), 0);
    return us / 1000;
  };
  const pulseIn = streamLatency(pulse.sourceOutputs, 'Chromium input');
  const pulseOut = streamLatency(pulse.sinkInputs, 'ALSA plug-in [ptt-server]');
  const { onsets, delays } = clickDelays(envelope(stereo, 0), envelope(stereo, 1));
  const report = h.server.log.split('\n').filter((l) => /talk \d+ played/.test(l)).at(-1) ?? '';
  const num = (re) => { const m = report.match(re); return m ? Number(m[1]) : NaN; };
  const c2p = num(/capture-to-playout median (\d+(?:\.\d+)?) ms/), c2pP99 = num(/capture-to-playout median [\d.]+ ms, p99 (\d+(?:\.\d+)?) ms/);
  const a2p = num(/arrival-to-playout median (\d+(?:\.\d+)?) ms/), c2a = num(/capture-to-arrival median (\d+(?:\.\d+)?) ms/);
  const device = num(/incl\. (\d+) ms device latency/);
  const frameMs = 30;  // a 20 ms packet's first sample waits for the packet and 10 ms of preprocessing lookahead
  const inputMs = input === null ? NaN : input * 1000;

  const median = quantile(delays, 0.5), p99 = quantile(delays, 0.99);
  const stages = [
    ['capture: PulseAudio record stream to Chromium (pactl)', pulseIn],
    ['capture: Chromium to the worklet (the track\'s reported latency)', inputMs],
    ['frame + encode: 20 ms packet, 10 ms preprocessing (by design)', frameMs],
    ['network: worklet to server (capture-to-arrival minus the above)', c2a - inputMs - frameMs],
    ['jitter buffer: arrival to the PortAudio callback\'s output', a2p - device],
    ['output: ptt-server\'s PulseAudio playback stream (pactl)', pulseOut],
  ];
  const sum = stages.reduce((s, [, v]) => s + v, 0);
  console.log(`Mouth-to-ear, click train through Chromium, ptt-server and PulseAudio (${delays.length} of ${onsets} clicks matched)`);
  console.log(`  from the audio (click in -> click out):   median ${median.toFixed(1)} ms  p99 ${p99.toFixed(1)} ms`);
  console.log(`  in-band (capture time -> playout):        median ${c2p.toFixed(1)} ms  p99 ${c2pP99.toFixed(1)} ms  (server's talk report)`);
  console.log('  stages (medians):');
  for (const [name, v] of stages) console.log(`    ${name.padEnd(66)} ${v.toFixed(1).padStart(6)} ms`);
  console.log(`    ${'sum of the stages'.padEnd(66)} ${sum.toFixed(1).padStart(6)} ms  (${((100 * (sum - median)) / median).toFixed(1)} % from the audio's median)`);
  console.log(`    ${'not accounted for by any stage'.padEnd(66)} ${(median - sum).toFixed(1).padStart(6)} ms`);
  console.log(`RESULT mouth_to_ear median_ms=${median.toFixed(1)} p99_ms=${p99.toFixed(1)} stage_sum_ms=${sum.toFixed(1)}`);
  if (delays.length < onsets / 2) process.exitCode = 1;
} finally {
  await h.close();
}
