// The student's journey in each engine students arrive with (engines.mjs: Chromium, Firefox,
// WebKit): two students join, A holds the button and speaks (real speech through PulseAudio as the
// microphone) and is heard at the professor's speakers (a null sink parec records), B is told at
// once that A is speaking and gets the floor once A lets go, and A's talk is recorded. Then, in
// each engine, the raised hand of queue mode and the return after a server restart. The same
// assertions in each engine; the envelope correlation of what was played with A's speech, and the
// time back after the restart, are printed per engine. Last: a Firefox whose audio never starts
// tells the student so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Harness, makeSpeech, sleepMs, artifacts } from './harness.mjs';
import { ENGINES, joinRetrying, openStudent } from './engines.mjs';
import { envelope, firstTalk, matchTalk } from './speech_match.mjs';

const h = new Harness();
const token = 'engines-token-0123';
const serverArgs = ['--admin-token', token];
let url, port, speech;
let talks = 0;  // the server's talk count, for its "talk N played" lines

before(async () => {
  await h.startPulse({ speechMic: true });
  url = await h.startServer(serverArgs);
  port = Number(new URL(url).port);
  speech = makeSpeech(h.dir, 'speech', 'push to talk lets one student speak at a time while the professor hears every word clearly through the speakers of the lecture hall');
  h.playMic(speech.wav);
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

async function waitPlayed(n) {
  for (const end = performance.now() + 15000; !h.logs().includes(`talk ${n} played`) && performance.now() < end;) await sleepMs(100);
}

for (const engine of ENGINES) {
  test(`${engine}: A is heard and recorded; B is told A is speaking, then gets the floor`, { timeout: 120000 }, async () => {
    const nameA = `A-${engine}`, nameB = `B-${engine}`;
    const a = await joinRetrying(engine, h, url, nameA);
    let b;
    try {
      b = await joinRetrying(engine, h, url, nameB, { heard: false });  // B is heard in the other journeys
      await a.screenshot(path.join(artifacts, `engine-${engine}-ready.png`));
      // A first, unmeasured talk starts the engine's audio path (and the server's output stream).
      await a.down();
      await a.waitState('live', 5000);
      await sleepMs(700);
      await a.screenshot(path.join(artifacts, `engine-${engine}-live.png`));
      await a.up();
      await a.waitState('ready', 3000);
      await waitPlayed(++talks);
      await sleepMs(1000);

      const sink = path.join(h.dir, `sink-${engine}.raw`);
      h.startSinkRecording(sink);
      await sleepMs(500);
      await a.down();
      const pressedAt = performance.now();
      await a.waitState('live', 3000);
      await sleepMs(800);
      await b.down();
      await b.waitState('busy', 2000);
      assert.equal(await b.text('#status'), `${nameA} is speaking`);
      assert.equal(await b.text('#floor'), `${nameA} is speaking`);
      await b.up();
      await sleepMs(pressedAt + 3000 - performance.now());
      await a.up();
      const releasedAt = performance.now();
      await a.waitState('ready', 2000);
      const talkA = ++talks;
      await sleepMs(2500);
      await b.down();
      await b.waitState('live', 3000);
      await sleepMs(300);
      await b.up();
      await b.waitState('ready', 2000);
      ++talks;
      await sleepMs(1000);
      const out = await h.stopSinkRecording();

      // A's talk: the first sound in the capture, ended by 1.5 s of quiet (B's comes later).
      const outEnv = envelope(out);
      const [o1, o2] = firstTalk(outEnv, 150, 20);
      const heldS = (releasedAt - pressedAt) / 1000;
      assert.ok(o1 >= 0, `${engine}: A was played`);
      const { best, mean, heardS } = matchTalk(outEnv.slice(o1, Math.min(o2 + 1, o1 + Math.round(heldS * 100))), speech.samples);
      const playedS = (o2 - o1 + 1) / 100;
      console.log(`${engine}: envelope correlation ${best.toFixed(3)}, mean ${mean.toFixed(3)}; held ${heldS.toFixed(2)} s; ` +
                  `speech heard for ${heardS.toFixed(2)} s, played for ${playedS.toFixed(2)} s`);
      assert.ok(best > 0.9, `${engine}: output envelope correlates ${best.toFixed(3)} with A's speech`);
      assert.ok(mean > 0.8, `${engine}: output envelope correlates ${mean.toFixed(3)} on average with A's speech`);
      assert.ok(playedS >= 0.95 * heardS, `${engine}: played for ${playedS} s, heard for ${heardS} s: speech was lost`);

      await waitPlayed(talkA);
      const file = path.join(h.recordings, `${nameA}-2.opus`);
      assert.ok(existsSync(file), `${file} exists`);
      execFileSync('opusinfo', [file], { stdio: 'pipe' });
    } finally {
      await a.close();
      await b?.close();
    }
  });
}

const admin = (what) => execFileSync('curl', ['-sk', '-X', 'POST', '-H', `Authorization: Bearer ${token}`, `${url}admin/${what}`]);

for (const engine of ENGINES) {
  test(`${engine}: a raised hand gets its turn; a restarted server has the student back`, { timeout: 120000 }, async () => {
    const nameA = `QA-${engine}`, nameB = `QB-${engine}`;
    const a = await joinRetrying(engine, h, url, nameA, { heard: false });
    let b;
    try {
      b = await joinRetrying(engine, h, url, nameB, { heard: false });
      admin('mode?mode=queue');
      await a.down();
      await a.waitState('live', 5000);
      // B taps: the hand goes up and stays up after letting go.
      await b.down();
      await b.up();
      await b.waitState('queued', 3000);
      await b.waitFor(`document.getElementById('status').textContent === ${JSON.stringify(`${nameA} is speaking. Your hand is up: you are number 1 in line.`)}`, 2000);
      await sleepMs(500);
      assert.equal(await b.state(), 'queued', `${engine}: still in line after letting go`);
      // A lets go: B's turn comes, and B's press goes live.
      await a.up();
      await b.waitState('your_turn', 3000);
      await b.screenshot(path.join(artifacts, `engine-${engine}-your-turn.png`));
      await b.down();
      await b.waitState('live', 3000);
      await sleepMs(300);
      await b.up();
      await b.waitState('ready', 3000);
      talks += 2;
      admin('mode?mode=first_come');

      // The server goes away and comes back on its port: the page says so, then rejoins by itself.
      await h.stopServerAndWait();
      await a.waitState('unreachable', 5000);
      assert.match(await a.text('#status'), /^Can't reach the server\. Retrying in \d s…$/);
      await sleepMs(3000);
      url = await h.startServer(serverArgs, { port });
      const back = performance.now();
      await a.waitState('ready', 5000);
      const backS = (performance.now() - back) / 1000;
      console.log(`${engine}: back ${backS.toFixed(2)} s after the restarted server was ready`);
      assert.ok(backS < 2, `${engine}: rejoined in ${backS.toFixed(2)} s`);
      await b.waitState('ready', 5000);
      talks = 0;  // a new server counts its talks afresh
    } finally {
      await a.close();
      await b?.close();
    }
  });
}

// Firefox with no sound server and no stand-in for one: its AudioContext never starts and says
// nothing. The student must be told within 10 s, not left with a Join that waits for ever.
test('an AudioContext that never starts is explained to the student within 10 s', { timeout: 60000 }, async () => {
  const env = { ...h.env, PULSE_SERVER: `unix:${h.dir}/no-sound-server` };
  const f = await openStudent('firefox', h, {
    env, prefs: { 'media.navigator.permission.disabled': true, 'media.navigator.streams.fake': true },
  });
  try {
    await f.goto(url);
    await f.waitFor(`document.getElementById('app')?.dataset.state === 'join'`, 20000);
    await f.type('#name', 'Mute');
    const clicked = performance.now();
    await f.click('#join button[type=submit]');
    await f.waitState('error', 10000);
    const seconds = (performance.now() - clicked) / 1000;
    const message = await f.text('#error');
    console.log(`firefox without sound: "${message}" after ${seconds.toFixed(1)} s`);
    assert.match(message, /did not start its audio/);
    await f.screenshot(path.join(artifacts, 'engine-firefox-no-audio.png'));
  } finally {
    await f.close();
  }
});
