// A professor's busy laptop: the student's browser, then the browser and the server, are frozen for
// 50 ms bursts, 20 % of the time each (ptt_stall_injector, seeded: the same bursts every run),
// while A talks. Packets come late and in bunches and the audio callback misses beats; the server
// must still play every packet of A's speech (its talk line: nothing dropped), and A must still be
// heard as well as in the journey test.
// The microphone runs on a real clock here, as a laptop's does: A's speech is played into the
// isolated PulseAudio's `mic` source, which keeps what a frozen Chromium has not read yet, as a
// sound card's buffer does. (Chromium's file-fed fake microphone is paced by the browser's own
// timers: frozen, it stops the speech itself, and the server can only fill each freeze with
// concealment.) One recording of the sink holds the microphone (left) and the speakers (right).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Harness, makeSpeech, joinAs, sleepMs, waitState, browserPid, recordedTalk } from './harness.mjs';
import { envelope, firstTalk, matchTalk } from './speech_match.mjs';

const injector = process.env.PTT_STALL_INJECTOR ?? path.resolve(import.meta.dirname, '../../build/native/tests/support/ptt_stall_injector');
const h = new Harness();
let page, speech;

before(async () => {
  await h.startPulse({ loopbackMic: true });
  const url = await h.startServer(['--log-level', 'debug']);  // each talk's audio figures
  speech = makeSpeech(h.dir, 'a', 'push to talk lets one student speak at a time while the professor hears every word clearly through the speakers of the lecture hall', 0.3);
  page = await h.browser({ pulseMic: true });
  await joinAs(page, url, 'A');
  // An unmeasured talk first, as in the journey test: the browser warms up, the sound server opens.
  await talkFor(1000);
  for (const end = performance.now() + 15000; !h.logs().includes('talk 1 played') && performance.now() < end;) await sleepMs(100);
  await sleepMs(1000);
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

// A holds Space, says `speech` into the microphone (or its first `ms`) and lets go 300 ms after;
// how long A held it (s).
async function talkFor(ms = Infinity) {
  await page.keyboard.down('Space');
  const pressedAt = performance.now();
  await waitState(page, 'live', 5000);
  const player = spawn('paplay', ['-d', 'click_in', speech.wav], { env: h.env, stdio: 'ignore' });
  const said = new Promise((r) => player.once('exit', r));
  if (Number.isFinite(ms)) {
    await sleepMs(ms);
    player.kill('SIGTERM');
  }
  await said;
  await sleepMs(300);
  await page.keyboard.up('Space');
  const heldS = (performance.now() - pressedAt) / 1000;
  await waitState(page, 'ready', 5000);
  return heldS;
}

// One talk by A under the contention rig freezing `targets`; what the server reported and how
// well A's speech can be heard in what it played.
async function stalledTalk(serial, targets) {
  const sink = path.join(h.dir, `sink-stalls-${serial}.raw`);
  h.startSinkRecording(sink, 2);
  await sleepMs(500);
  const rig = spawn(injector, ['--seed', String(serial), '--duty', '0.2', '--burst-ms', '50', ...targets],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let rigReport = '';
  rig.stdout.on('data', (d) => { rigReport += d; });
  const rigDone = new Promise((r) => rig.once('exit', r));
  try {
    const heldS = await talkFor();
    rig.kill('SIGTERM');
    await rigDone;
    console.log(rigReport.trim());
    await sleepMs(3000);  // the tail plays out
    const stereo = await h.stopSinkRecording();
    const channel = (c) => Float32Array.from({ length: stereo.length >> 1 }, (_, i) => stereo[2 * i + c]);
    const mic = channel(0), out = channel(1);

    // What the speakers played of the talk, against what the microphone heard of it.
    const outEnv = envelope(out);
    const [o1, o2] = firstTalk(outEnv, 150, 20);
    const talk = outEnv.slice(o1, o2 + 1);
    const [m1, m2] = firstTalk(envelope(mic), 150, 20);
    const said = mic.subarray(m1 * 480, (m2 + 1) * 480);
    const { best, mean, heardS, describe, windows } = matchTalk(talk, said);
    console.log(`envelope correlation ${best.toFixed(3)} (median of ${windows} windows), mean ${mean.toFixed(3)}; held ${heldS.toFixed(2)} s; ` +
      `said for ${((m2 - m1 + 1) / 100).toFixed(2)} s, heard for ${heardS.toFixed(2)} s, played for ${((o2 - o1 + 1) / 100).toFixed(2)} s`);
    console.log(describe);
    // What the browser sent, as the server recorded it (the packets as they came, decoded without
    // the jitter stage): what the talk could at best sound like.
    const recorded = recordedTalk(h, `A-${serial}`);
    if (recorded) {
      const recEnv = envelope(recorded);
      const [r1, r2] = firstTalk(recEnv, 150, 0);
      const sent = matchTalk(recEnv.slice(r1, r2 + 1), said);
      console.log(`as sent (the recording): envelope correlation ${sent.best.toFixed(3)} (median of ${sent.windows} windows), mean ${sent.mean.toFixed(3)}; ${((r2 - r1 + 1) / 100).toFixed(2)} s`);
    }
    const line = h.logs().match(new RegExp(`talk ${serial} audio: (\\d+) packets \\((\\d+) of them after their time\\).*?caught up by skipping (\\d+) silent packets and compressing (\\d+) ms of speech; dropped (\\d+) late, (\\d+) to cut delay`));
    assert.ok(line, `the server reported talk ${serial}:\n${h.server.log}`);
    const [, played, latePlayed, skipped, compressedMs, late, cut] = line.map(Number);
    for (const l of h.logs().split('\n')) if (l.includes(`talk ${serial} audio`) || l.includes('output buffer')) console.log(l);
    console.log(`talk ${serial}: ${played} packets played (${latePlayed} after their time), ${skipped} silent skipped, ${compressedMs} ms compressed; dropped ${late} late, ${cut} to cut delay`);
    return { played, late, cut, best, mean, heardS, saidS: (m2 - m1 + 1) / 100 };
  } finally {
    if (rig.exitCode === null) {
      rig.kill('SIGTERM');
      await rigDone;
    }
  }
}

// The journey test's bar: the median window correlates above 0.9 and the mean above 0.8, and the
// talk covers the speech.
function assertHeard(r) {
  assert.ok(r.played >= 150, `${r.played} packets played of a ${r.saidS} s talk`);
  assert.equal(r.late + r.cut, 0, 'no packet dropped');
  assert.ok(r.best > 0.9, `output envelope correlates ${r.best.toFixed(3)} with what A said`);
  assert.ok(r.mean > 0.8, `output envelope correlates ${r.mean.toFixed(3)} on average with what A said`);
  assert.ok(r.heardS > r.saidS - 0.5, `speech heard for ${r.heardS} s of ${r.saidS} s said`);
}

test('the browser frozen 50 ms at a time, 20 % of the time: A is heard, no packet lost', { timeout: 90000 }, async () => {
  assertHeard(await stalledTalk(2, [`tree:${browserPid(page)}`]));
});

test('browser and server both frozen so: A is heard, no packet lost', { timeout: 90000 }, async () => {
  assertHeard(await stalledTalk(3, [`tree:${browserPid(page)}`, String(h.server.pid)]));
});

// A heavy page or a slow phone: the page's main thread busy 50 ms of every 200 ms during a talk,
// beside the same talk with the main thread idle. The packets go from the worklet to the socket
// through a Worker (socket-worker.js), not through the main thread, so the busy main thread adds
// little to the arrival jitter: capture-to-arrival p99 less median was 53 ms when the main thread
// sent them (8 ms idle), 8 to 11 ms from the Worker. Compared with the idle talk of the same run,
// not with a fixed figure: on a machine with a core taken by other work the spread of both grows
// (18 and 63 ms seen with the busy main thread).
async function arrivalSpread(serial, busy) {
  if (busy) {
    await page.evaluate(() => {
      globalThis.pttBusy = setInterval(() => { for (const end = performance.now() + 50; performance.now() < end;); }, 200);
    });
  }
  try {
    await talkFor();
  } finally {
    if (busy) await page.evaluate(() => clearInterval(globalThis.pttBusy));
  }
  let line;
  const re = new RegExp(`talk ${serial} audio: (\\d+) packets \\((\\d+) of them after their time\\).*capture-to-arrival median (\\d+) ms, p99 (\\d+) ms`);
  for (const end = performance.now() + 15000; !(line = h.logs().match(re)) && performance.now() < end;) await sleepMs(100);
  assert.ok(line, `the server reported talk ${serial}:\n${h.server.log}`);
  const [, played, latePlayed, c2aMedian, c2aP99] = line.map(Number);
  console.log(`main thread ${busy ? 'busy' : 'idle'}: ${played} packets, ${latePlayed} after their time; capture-to-arrival median ${c2aMedian} ms, p99 ${c2aP99} ms`);
  assert.ok(played >= 150, `${played} packets played of a 7 s talk`);
  return c2aP99 - c2aMedian;
}

test("the page's main thread busy 50 ms of every 200 ms: packets still leave on time", { timeout: 120000 }, async () => {
  const idle = await arrivalSpread(4, false);
  const busy = await arrivalSpread(5, true);
  assert.ok(busy <= idle + 30, `arrival spread (p99 less median) ${busy} ms with the main thread busy, ${idle} ms idle`);
});

// How far behind the microphone the speakers play a talk (ms): the lag, in 10 ms envelope steps,
// that best lines the speakers' envelope up with the microphone's.
async function talkDelayMs() {
  const sink = path.join(h.dir, `sink-delay-${performance.now()}.raw`);
  h.startSinkRecording(sink, 2);
  await sleepMs(500);
  await talkFor(4000);
  await sleepMs(1500);
  const stereo = await h.stopSinkRecording();
  const env = (c) => envelope(Float32Array.from({ length: stereo.length >> 1 }, (_, i) => stereo[2 * i + c]));
  const mic = env(0), out = env(1);
  let best = -Infinity, bestLag = -1;
  for (let lag = 0; lag <= 100; lag++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i + lag < out.length && i < mic.length; i++) {
      ab += mic[i] * out[i + lag];
      aa += mic[i] * mic[i];
      bb += out[i + lag] * out[i + lag];
    }
    const c = ab / Math.sqrt(aa * bb + 1e-30);
    if (c > best) [best, bestLag] = [c, lag];
  }
  assert.ok(best > 0.8, `the speakers' envelope matches the microphone's (correlation ${best.toFixed(3)})`);
  return bestLag * 10;
}

// Chromium keeps what its audio graph has not yet taken from the microphone as delay, for as long
// as the graph's source node lives: a browser frozen while nobody talks (a phone busy with another
// app) came back a fixed amount behind its microphone. The page joins the microphone afresh at each
// press, so the next talk plays as soon after the voice as the one before the freeze.
test('the browser frozen while nobody talks: the next talk is not heard later', { timeout: 120000 }, async () => {
  const before = await talkDelayMs();
  const rig = spawn(injector, ['--seed', '9', '--duty', '0.5', '--burst-ms', '200', `tree:${browserPid(page)}`], { stdio: 'ignore' });
  await sleepMs(3000);
  rig.kill('SIGTERM');
  await new Promise((r) => (rig.exitCode !== null ? r() : rig.once('exit', r)));
  await sleepMs(1000);
  const after = await talkDelayMs();
  console.log(`mouth-to-ear (speakers behind the microphone): ${before} ms before the freezes, ${after} ms after`);
  assert.ok(after <= before + 60, `the talk after the freezes is heard ${after} ms behind the voice, ${before} ms before them`);
});
