#!/usr/bin/env node
// The output device's callback size against what it costs and what it buys: for each size, the
// real ptt-server plays talks of clicks from a Chromium page (10 ms packets) into an isolated
// PulseAudio null sink, as bench/mouth_to_ear.mjs does; printed per size: the latency the device
// reports at each callback, the in-band delay (page's audio graph to the sink, the server's talk
// report), the clicks' mouth-to-ear, underruns, and the whole server process's CPU while talking
// and while idle with the device open (--standby-after 0), from /proc.
// Needs both builds. Usage: node bench/output_buffer.mjs [frames per callback, comma-separated]
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Harness, joinAs, sleepMs, readFloat32, root } from '../tests/browser/harness.mjs';
import { clickTrain, envelope, clickDelays } from './clicks.mjs';

const sizes = (process.argv[2] ?? '480,240,120').split(',').map(Number), talks = 3;
const quantile = (v, q) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;  // utime + stime, 10 ms ticks
};

console.log(`Output device callback size (one server per size, ${talks} talks of 6 s of clicks after a warm-up, 10 ms packets, Chromium, PulseAudio null sink):`);
console.log('| frames per callback | period | device latency | in-band median | in-band p99 | mouth-to-ear median | p99 | output underruns | server CPU talking | idle, device open |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const results = [];
for (const frames of sizes) {
  const h = new Harness();
  try {
    await h.startPulse({ loopbackMic: true });
    const url = await h.startServer(['--log-level', 'debug', '--frames-per-callback', String(frames), '--standby-after', '0']);
    const clicks = path.join(h.dir, 'clicks.wav');
    clickTrain(clicks, 6);
    const page = await h.browser({ pulseMic: true });
    await joinAs(page, `${url}?packet=10`, 'Bench');
    const box = await page.locator('#talk').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await sleepMs(1000);
    const pid = h.server.pid, rows = [];
    let talkCpu = 0, talkMs = 0;
    for (let n = 0; n <= talks; n++) {
      const rec = path.join(h.dir, `sink-${n}.raw`);
      const recorder = spawn(path.join(root, 'build/native/bench/sink_recorder'), ['ptt_sink.monitor', '2', rec], { env: h.env, stdio: 'ignore' });
      await sleepMs(300);
      const c0 = cpuMs(pid), t0 = performance.now();
      await page.mouse.down();
      await page.locator('#app[data-state="live"]').waitFor({ timeout: 5000 });
      await sleepMs(500);
      const player = spawn('paplay', ['-d', 'click_in', clicks], { env: h.env, stdio: 'ignore' });
      await new Promise((r) => player.once('exit', r));
      await sleepMs(500);
      await page.mouse.up();
      if (n > 0) { talkCpu += cpuMs(pid) - c0; talkMs += performance.now() - t0; }
      await sleepMs(1500);
      const done = new Promise((r) => recorder.once('exit', r));
      recorder.kill('SIGINT');
      await done;
      if (n === 0) continue;  // warm-up
      const stereo = readFloat32(rec);
      const report = h.server.log.split('\n').filter((l) => /talk \d+ audio:/.test(l)).at(-1) ?? '';
      const num = (re) => Number(report.match(re)?.[1] ?? NaN);
      rows.push({
        delays: clickDelays(envelope(stereo, 0), envelope(stereo, 1)).delays,
        c2p: num(/capture-to-playout median ([\d.]+) ms/), c2pP99: num(/capture-to-playout median [\d.]+ ms, p99 ([\d.]+) ms/),
        device: num(/incl\. ([\d.]+) ms device latency/), underruns: num(/(\d+) output underruns/),
      });
    }
    const i0 = cpuMs(pid);
    await sleepMs(5000);
    const idlePct = (100 * (cpuMs(pid) - i0)) / 5000;
    const avg = (k) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
    const delays = rows.flatMap((r) => r.delays);
    const r = {
      frames, device: avg('device'), c2p: avg('c2p'), c2pP99: Math.max(...rows.map((x) => x.c2pP99)),
      median: quantile(delays, 0.5), p99: quantile(delays, 0.99), underruns: rows.reduce((s, x) => s + x.underruns, 0),
      talkPct: (100 * talkCpu) / talkMs, idlePct,
    };
    results.push(r);
    console.log(`| ${frames} | ${(frames / 48).toFixed(1)} ms | ${r.device.toFixed(1)} ms | ${r.c2p.toFixed(1)} ms | ${r.c2pP99.toFixed(0)} ms | ` +
                `${r.median} ms | ${r.p99} ms | ${r.underruns} | ${r.talkPct.toFixed(2)} % | ${r.idlePct.toFixed(2)} % |`);
  } finally {
    await h.close();
  }
}
const base = results.find((r) => r.frames === 240);
for (const r of results)
  console.log(`RESULT output_buffer_${r.frames} device_ms=${r.device.toFixed(1)} in_band_ms=${r.c2p.toFixed(1)} cpu_talking_pct=${r.talkPct.toFixed(2)} ` +
              `cpu_idle_open_pct=${r.idlePct.toFixed(2)}` + (base ? ` cpu_vs_240=${(r.talkPct / base.talkPct).toFixed(2)}` : ''));
