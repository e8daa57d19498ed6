// Talk-time awareness on the student's page: while live the button shows the time against the
// limit; in the last 10 s it counts down, changes colour, says so once in the live region, plays a
// falling tone and vibrates; then the server's revoke says time is up. And tap to talk, the setting for
// students who cannot hold a press.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Harness, makeSpeech, joinAs, sleepMs, waitState, artifacts, recordPhoneFeedback } from './harness.mjs';

const h = new Harness();
let url, speech;

before(async () => {
  await h.startPulse();
  url = await h.startServer(['--no-playback', '--max-talk', '12', '--silence-release', '0']);
  speech = makeSpeech(h.dir, 'a', 'let me explain the whole derivation step by step from the very beginning');
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

test('the last 10 s of a talk are counted down, coloured, toned and vibrated before the revoke', { timeout: 120000 }, async () => {
  const a = await h.browser({ wav: speech.wav, touch: true });
  await recordPhoneFeedback(a);
  await joinAs(a, url, 'A');
  const box = await a.locator('#talk').boundingBox();
  // A quick tap is not a hold: the page says to hold.
  await a.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2);
  await a.locator('#hint', { hasText: 'Hold the button while you speak: a quick tap does not give you the floor.' }).waitFor({ timeout: 2000 });
  await waitState(a, 'ready', 3000);
  await a.evaluate(() => { window.__tones.length = 0; });  // a grant the tap may have caught is not this test's
  await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await a.mouse.down();
  await waitState(a, 'live', 5000);
  await sleepMs(700);
  assert.match(await a.locator('#elapsed').textContent(), /^0:0\d \/ 0:12$/);
  assert.equal(await a.locator('#app').getAttribute('class'), 'app');
  assert.equal(await a.locator('#status').textContent(), "You're live");
  assert.deepEqual(await a.evaluate(() => window.__vibrations), []);
  const tonesBefore = await a.evaluate(() => window.__tones.slice());
  assert.deepEqual(tonesBefore, [880, 1320], 'the rising talk-permit tone at the grant');

  // The last 10 s.
  await a.locator('#app.ending').waitFor({ timeout: 4000 });
  await sleepMs(300);
  assert.match(await a.locator('#elapsed').textContent(), /^(10|[1-9]) s left$/);
  assert.equal(await a.locator('#status').textContent(), 'Less than 10 seconds left: finish your sentence.');
  assert.equal(await a.locator('#status').getAttribute('aria-live'), 'assertive');
  assert.deepEqual(await a.evaluate(() => window.__vibrations), [[120, 80, 120]]);
  assert.deepEqual((await a.evaluate(() => window.__tones)).slice(2), [1320, 880], 'a falling warning tone');
  const colour = await a.locator('#talk').evaluate((b) => getComputedStyle(b).backgroundColor);
  assert.equal(colour, 'rgb(180, 83, 9)', 'the button turns amber');
  await a.screenshot({ path: path.join(artifacts, 'student-last-seconds.png') });
  const first = await a.locator('#elapsed').textContent();
  await sleepMs(1200);
  const second = await a.locator('#elapsed').textContent();
  assert.ok(parseInt(second, 10) < parseInt(first, 10), `counting down (${first}, then ${second})`);

  // The server ends the talk at the limit: the page says why; the warning is given once.
  await waitState(a, 'revoked', 12000);
  assert.equal(await a.locator('#status').textContent(), 'Time is up for this talk.');
  assert.equal(await a.locator('#elapsed').textContent(), '');
  assert.equal((await a.evaluate(() => window.__vibrations)).length, 1);
  await a.mouse.up();
});

test('tap to talk: a tap starts the talk and the next stops it; the setting is remembered', { timeout: 60000 }, async () => {
  const b = await h.browser({ wav: speech.wav, touch: true });
  await joinAs(b, url, 'B');
  assert.equal(await b.locator('#hint').textContent(), 'Hold the button while you speak.', 'no Space key on a phone');
  await b.getByLabel('Tap to talk (no need to hold the button)').check();
  assert.equal(await b.locator('#talk-label').textContent(), 'Tap to talk');
  assert.equal(await b.locator('#hint').textContent(), 'Tap the button to start talking, and again to stop.');
  await b.locator('#talk').tap();
  await waitState(b, 'live', 5000);
  assert.equal(await b.locator('#talk-label').textContent(), 'Live: tap to stop');
  await sleepMs(1500);
  assert.equal(await b.locator('#app').getAttribute('data-state'), 'live', 'still live with nothing held');
  await b.locator('#talk').tap();
  await waitState(b, 'ready', 3000);
  for (let i = 0; i < 30 && !existsSync(path.join(h.recordings, 'B-1.opus')); i++) await sleepMs(100);
  assert.ok(existsSync(path.join(h.recordings, 'B-1.opus')), 'the tapped talk was recorded');
  // Remembered on this device: after a reload the box is still ticked.
  await b.reload();
  await b.getByLabel('Your name').fill('B');
  await b.getByRole('button', { name: 'Join' }).click();
  await waitState(b, 'ready', 15000);
  assert.ok(await b.getByLabel('Tap to talk (no need to hold the button)').isChecked());
  assert.equal(await b.locator('#talk-label').textContent(), 'Tap to talk');
});
