// One talk through the room rig (harness.mjs, startPulse({ room })): the server playing into
// `server_out`, PulseAudio's module-loopback carrying it back into the page's microphone. Shared by
// browser.feedback and bench/feedback.mjs.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { joinAs, sleepMs, readFloat32 } from './harness.mjs';

export const WARNING = 'You are close to the loudspeaker: step back or lower your phone.';

// 100 ms RMS levels (dBFS) of a mono recording.
export function levels(x) {
  const out = [];
  for (let i = 0; i + 4800 <= x.length; i += 4800) {
    let e = 0;
    for (let k = i; k < i + 4800; k++) e += x[k] * x[k];
    out.push(10 * Math.log10(e / 4800 + 1e-12));
  }
  return out;
}

// A fresh server with `serverArgs`, the room at `gainDb`; the student holds, says `speech` once and
// keeps holding for `holdMs`. Returns what the speakers played (recorded from the server's sink)
// with when that recording started and when the sentence ended (Date.now() ms), the page's hint
// just before letting go (and a screenshot to `screenshot` if it is the warning), and the server's
// log.
export async function talkThroughTheRoom(h, { serverArgs, gainDb, name, speech, holdMs = 5000, screenshot = null }) {
  await h.stopServerAndWait();
  h.setRoomGain(gainDb);
  const url = await h.startServer(serverArgs);
  const page = await h.browser({ pulseMic: true });
  try {
    await joinAs(page, url, name);
    const box = await page.locator('#talk').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await sleepMs(1000);
    const file = path.join(h.dir, `room-${name}.raw`);
    const rec = spawn('sh', ['-c', `exec parec -d server_out.monitor --rate=48000 --channels=1 --format=float32le --latency-msec=10 > '${file}'`],
      { env: h.env, stdio: 'ignore' });
    await sleepMs(300);
    const recStart = Date.now();
    await page.mouse.down();
    await page.locator('#app[data-state="live"]').waitFor({ timeout: 5000 });
    const player = spawn('paplay', ['-d', 'speech_in', speech.wav], { env: h.env, stdio: 'ignore' });
    await new Promise((r) => player.once('exit', r));
    const saidEnd = Date.now();
    await sleepMs(holdMs);
    const hint = await page.locator('#hint').textContent();
    if (screenshot && hint === WARNING) await page.screenshot({ path: screenshot });
    await page.mouse.up();
    // Each server counts its talks from 1; its debug line (if asked for) comes with the talk's.
    for (const end = performance.now() + 10000; !h.server.log.includes('talk 1 played') && performance.now() < end;) await sleepMs(100);
    await sleepMs(500);
    const exited = new Promise((r) => rec.once('exit', r));
    rec.kill('SIGINT');
    await exited;
    return { out: readFloat32(file), recStart, saidEnd, hint, log: h.server.log };
  } finally {
    await page.context().close();
  }
}
