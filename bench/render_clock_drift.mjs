#!/usr/bin/env node
// How far a page's audio graph falls behind the wall clock when a busy laptop freezes the browser:
// Chromium on the isolated PulseAudio, an AudioContext per latencyHint, then 5 s of 50 ms freezes
// at 20 % duty (ptt_stall_injector on the browser's process tree). The drift of performance.now()
// against AudioContext.currentTime is time the graph never rendered: the capture worklet falls as
// far behind the microphone (docs/AUDIO.md, "In a real browser"). Needs the native build.
// Usage: node bench/render_clock_drift.mjs
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Harness, sleepMs, browserPid, root } from '../tests/browser/harness.mjs';

const injector = path.join(root, 'build/native/tests/support/ptt_stall_injector');
const h = new Harness();
try {
  await h.startPulse({ loopbackMic: true });
  const page = await h.browser({ pulseMic: true });
  await page.goto('about:blank');
  console.log('Render clock drift over 5 s of 50 ms browser freezes at 20 % duty, by latencyHint (two rounds):');
  for (const hint of ['interactive', 0.016, 0.02, 0.025, 0.03, 'interactive', 0.016, 0.02, 0.025, 0.03]) {
    const before = await page.evaluate(async (hint) => {
      window.ctx?.close();
      window.ctx = new AudioContext({ sampleRate: 48000, latencyHint: hint });
      await window.ctx.resume();
      await new Promise((r) => setTimeout(r, 1000));
      return { drift: performance.now() - ctx.currentTime * 1000, base: ctx.baseLatency, out: ctx.outputLatency };
    }, hint);
    const rig = spawn(injector, ['--seed', '1', '--duty', '0.2', '--burst-ms', '50', `tree:${browserPid(page)}`], { stdio: 'ignore' });
    await sleepMs(5000);
    rig.kill('SIGTERM');
    await new Promise((r) => (rig.exitCode !== null ? r() : rig.once('exit', r)));
    await sleepMs(1000);
    const after = await page.evaluate(() => performance.now() - ctx.currentTime * 1000);
    console.log(`  latencyHint ${String(hint).padEnd(11)} buffers ${(before.base * 1000).toFixed(1).padStart(5)} ms, output ${(before.out * 1000).toFixed(0).padStart(3)} ms: ` +
      `${(after - before.drift).toFixed(0).padStart(4)} ms behind`);
  }
} finally {
  await h.close();
}
