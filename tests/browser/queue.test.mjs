// Queue mode in the browser (`--queue`), as two students live it: A talks; B presses and is told
// its place in line; when A lets go, B goes live without pressing again, and what B says is heard
// through the professor's speakers (an isolated PulseAudio null sink, recorded by parec). A's
// microphone plays silence, so everything loud in the capture is B. B's page sends 10 ms packets
// (?packet=10), A's the default 20 ms: the server plays each talk at its own packet duration.
// Then the raised hand: B taps instead of holding, lets go, and speaks when the floor comes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Harness, makeSpeech, joinAs, sleepMs, waitState, recordedTalk, recordPhoneFeedback } from './harness.mjs';
import { envelope, firstTalk, matchTalk } from './speech_match.mjs';

const h = new Harness();
let pageA, pageB, speechB, url;

before(async () => {
  await h.startPulse();
  url = await h.startServer(['--queue']);
  const silence = path.join(h.dir, 'silence.wav');
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', silence, 'trim', '0', '5']);
  speechB = makeSpeech(h.dir, 'b', 'may I ask a question about the last slide please, and about the homework for next week');
  pageA = await h.browser({ wav: silence });
  pageB = await h.browser({ wav: speechB.wav });
  await recordPhoneFeedback(pageB);
  await joinAs(pageA, url, 'A');
  await joinAs(pageB, `${url}?packet=10`, 'B');
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

test('B waits in line while A talks, goes live when A lets go, and is heard', { timeout: 90000 }, async () => {
  const sink = path.join(h.dir, 'sink.raw');
  h.startSinkRecording(sink);
  await sleepMs(500);

  await pageA.keyboard.down('Space');
  await waitState(pageA, 'live', 5000);

  const box = await pageB.locator('#talk').boundingBox();
  await pageB.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await pageB.mouse.down();
  await waitState(pageB, 'queued', 3000);
  assert.equal(await pageB.locator('#status').textContent(), 'A is speaking. You are number 1 in line.');
  assert.equal(await pageB.locator('#floor').textContent(), 'A is speaking');
  await sleepMs(1500);  // B speaks in line: the pre-roll keeps the newest second of it

  await pageA.keyboard.up('Space');
  // The floor passes to B, still holding, with no second press.
  await waitState(pageB, 'live', 3000);
  const liveAt = performance.now();
  assert.equal(await pageB.locator('#status').textContent(), "You're live");
  await waitState(pageA, 'ready', 2000);
  assert.equal(await pageA.locator('#floor').textContent(), 'B is speaking');
  await sleepMs(3000);
  await pageB.mouse.up();
  const heldS = (performance.now() - liveAt) / 1000;
  await waitState(pageB, 'ready', 2000);
  for (const end = performance.now() + 15000; !h.logs().includes('talk 2 played') && performance.now() < end;) await sleepMs(100);
  await sleepMs(1000);
  const out = await h.stopSinkRecording();

  const outEnv = envelope(out);
  const [o1, o2] = firstTalk(outEnv, 150, 0);
  assert.ok(o1 >= 0, 'something was played');
  const talk = outEnv.slice(o1, o2 + 1);
  const { best, mean, heardS, describe, windows } = matchTalk(talk, speechB.samples);
  const playedS = talk.length / 100;
  console.log(`queue: B held ${heldS.toFixed(2)} s live (after 1.5 s in line); played ${playedS.toFixed(2)} s; ` +
              `envelope correlation ${best.toFixed(3)} (median of ${windows} windows), mean ${mean.toFixed(3)}; heard ${heardS.toFixed(2)} s`);
  console.log(`queue: ${describe}`);
  const recorded = recordedTalk(h, 'B-1');
  if (recorded) {
    const recEnv = envelope(recorded), [r1, r2] = firstTalk(recEnv, 150, 0);
    const sent = matchTalk(recEnv.slice(r1, r2 + 1), speechB.samples);
    console.log(`queue: as sent (the recording): correlation ${sent.best.toFixed(3)}, mean ${sent.mean.toFixed(3)}; ${sent.describe}`);
  }
  assert.ok(best > 0.9, `output envelope correlates ${best.toFixed(3)} with B's speech`);
  assert.ok(mean > 0.8, `output envelope correlates ${mean.toFixed(3)} on average with B's speech`);
  // B was heard for a good part of the talk, and nothing played that B did not say: at most the live
  // time and the 0.8 s pre-roll from the line. (Not the journey's played-equals-heard check: the
  // pre-roll arrives as a burst whose delay the jitter buffer cuts by skipping, so what plays is two
  // stretches of B's speech joined, which one alignment measures as shorter than it played.)
  assert.ok(playedS >= 1.5, `B was heard for ${playedS} s of ${heldS.toFixed(2)} s live`);
  assert.ok(playedS <= heldS + 0.8 + 0.2, `played ${playedS} s, more than B's ${heldS.toFixed(2)} s live and the pre-roll`);

  // B's talk went as 10 ms packets: about 100 a second of it played.
  const packets = Number(/talk 2 played: (\d+) packets/.exec(h.logs())?.[1] ?? 0);
  assert.ok(packets > 80 * playedS, `talk 2 played ${packets} packets in ${playedS.toFixed(2)} s: 10 ms ones`);

  const file = path.join(h.recordings, 'B-1.opus');  // serials count each name's talks
  assert.ok(existsSync(file), `${file} exists`);
  execFileSync('opusinfo', [file], { stdio: 'pipe' });
});

test('B raises a hand with a tap, lets go, and speaks when the turn comes', { timeout: 90000 }, async () => {
  await pageA.keyboard.down('Space');
  await waitState(pageA, 'live', 5000);

  // A tap: the hand goes up and stays up; nothing is held.
  await pageB.locator('#talk').click();
  await waitState(pageB, 'queued', 3000);
  await pageB.locator('#status', { hasText: 'A is speaking. Your hand is up: you are number 1 in line.' }).waitFor({ timeout: 2000 });
  assert.equal(await pageB.locator('#talk-label').textContent(), 'Hand raised');
  assert.equal(await pageB.locator('#hint').textContent(), 'Press again to lower your hand.');
  await pageB.evaluate(() => { window.__tones.length = 0; window.__vibrations.length = 0; });
  await sleepMs(1000);
  assert.equal(await pageB.locator('#app').getAttribute('data-state'), 'queued', 'still in line after letting go');

  const sink = path.join(h.dir, 'sink-raised.raw');
  h.startSinkRecording(sink);
  await sleepMs(500);
  // A lets go: the floor comes to B's raised hand, with the tone and a buzz, and waits for the press.
  await pageA.keyboard.up('Space');
  await waitState(pageB, 'your_turn', 3000);
  assert.match(await pageB.locator('#status').textContent(), /^Your turn! Hold the button to speak \([1-5] s\)\.$/);
  assert.equal(await pageB.locator('#talk-label').textContent(), 'Your turn: hold to talk');
  await sleepMs(300);
  assert.deepEqual(await pageB.evaluate(() => window.__tones), [880, 1320], 'the talk-permit tone');
  assert.deepEqual(await pageB.evaluate(() => window.__vibrations), [[200, 100, 200]]);
  await sleepMs(700);
  const box = await pageB.locator('#talk').boundingBox();
  await pageB.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await pageB.mouse.down();
  await waitState(pageB, 'live', 2000);
  const liveAt = performance.now();
  await sleepMs(3000);
  await pageB.mouse.up();
  const heldS = (performance.now() - liveAt) / 1000;
  await waitState(pageB, 'ready', 2000);
  const out = await h.stopSinkRecordingAfterTalk(4);
  const outEnv = envelope(out);
  const [o1, o2] = firstTalk(outEnv, 150, 0);
  assert.ok(o1 >= 0, 'B was played');
  const { best, mean } = matchTalk(outEnv.slice(o1, o2 + 1), speechB.samples);
  const playedS = (o2 - o1 + 1) / 100;
  console.log(`queue: raised hand, B pressed on its turn, held ${heldS.toFixed(2)} s; played ${playedS.toFixed(2)} s; ` +
              `envelope correlation ${best.toFixed(3)}, mean ${mean.toFixed(3)}`);
  assert.ok(best > 0.9, `B's speech reached the speakers (correlation ${best.toFixed(3)})`);
  assert.ok(playedS <= heldS + 0.3, `nothing from before the press played (${playedS} s for ${heldS.toFixed(2)} s held)`);

  // A second tap lowers a raised hand: out of line at once.
  await pageA.keyboard.down('Space');
  await waitState(pageA, 'live', 5000);
  await pageB.locator('#talk').click();
  await waitState(pageB, 'queued', 3000);
  await pageB.locator('#talk').click();
  await waitState(pageB, 'ready', 3000);
  await pageA.keyboard.up('Space');
  await sleepMs(1000);
  assert.equal(await pageB.locator('#app').getAttribute('data-state'), 'ready', 'a lowered hand is not given the floor');
});
