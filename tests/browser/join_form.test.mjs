// Joining as a student meets it: a room with a code shows its code field before the first try and
// puts the cursor back in it after a wrong code; the microphone is asked for only once the server
// has welcomed the student (never for a wrong code or a full room), and until it runs the page
// says it is starting it. Each state is photographed and checked with axe-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Harness, checkA11y, waitState } from './harness.mjs';

const h = new Harness();
let url, silence;

before(async () => {
  await h.startPulse();
  url = await h.startServer(['--no-playback', '--room-code', '4711', '--max-clients', '1']);
  silence = path.join(h.dir, 'silence.wav');
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', silence, 'trim', '0', '5']);
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

// Counts the page's getUserMedia calls in window.__micAsks, and holds each call until the test
// sets window.__micAllowed (as a student reading the browser's prompt would).
async function watchMicrophone(page) {
  await page.addInitScript(() => {
    window.__micAsks = 0;
    window.__micAllowed = false;
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      window.__micAsks += 1;
      while (!window.__micAllowed) await new Promise((r) => setTimeout(r, 20));
      return original(constraints);
    };
  });
}
const micAsks = (page) => page.evaluate(() => window.__micAsks);

for (const profile of ['phone', 'desktop']) {
  test(`the code field is there before the first try; the microphone waits for the welcome (${profile})`, { timeout: 120000 }, async () => {
    const touch = profile === 'phone';
    const checked = [];
    const a = await h.browser({ wav: silence, touch });
    if (!touch) await a.setViewportSize({ width: 1280, height: 800 });
    await watchMicrophone(a);
    await a.goto(url);
    await a.locator('#app[data-state="join"]').waitFor({ timeout: 15000 });
    // The room has a code: its field shows at once, before any attempt.
    assert.ok(await a.getByLabel('Room code').isVisible(), 'the code field shows before the first try');
    await checkA11y(a, `${profile}-join-with-room-code`, checked);

    // A wrong code: said plainly, the code field has the cursor (its text selected), no microphone.
    await a.getByLabel('Your name').fill('Ana');
    await a.getByLabel('Room code').fill('0000');
    await a.getByRole('button', { name: 'Join' }).click();
    await a.locator('#join-error', { hasText: 'That room code is wrong.' }).waitFor({ timeout: 5000 });
    assert.equal(await a.evaluate(() => document.activeElement?.id), 'room');
    assert.equal(await micAsks(a), 0, 'no microphone prompt for a refused join');
    await checkA11y(a, `${profile}-wrong-room-code`, checked);

    // The right code: welcomed, and only now the browser asks for the microphone; the page says so
    // and the talk button waits.
    await a.getByLabel('Room code').fill('4711');
    await a.getByRole('button', { name: 'Join' }).click();
    await waitState(a, 'starting', 5000);
    assert.equal(await micAsks(a), 1);
    assert.equal(await a.locator('#talk-label').textContent(), 'Starting the microphone…');
    assert.match(await a.locator('#status').textContent(), /Allow the microphone/);
    assert.ok(await a.locator('#talk').isDisabled());
    await checkA11y(a, `${profile}-starting-microphone`, checked);
    await a.evaluate(() => { window.__micAllowed = true; });
    await waitState(a, 'ready', 10000);
    assert.ok(await a.locator('#talk').isEnabled());

    // A full room (--max-clients 1): B with the code in its link is told so, and is not asked for the
    // microphone while it waits.
    const b = await h.browser({ wav: silence, touch });
    await watchMicrophone(b);
    await b.goto(`${url}?room=4711`);
    await b.locator('#app[data-state="join"]').waitFor({ timeout: 15000 });
    assert.equal(await b.getByLabel('Room code').inputValue(), '4711');
    await b.getByLabel('Your name').fill('Ben');
    await b.getByRole('button', { name: 'Join' }).click();
    await b.locator('#status', { hasText: /^The room is full\. Retrying in \d s…$/ }).waitFor({ timeout: 5000 });
    assert.equal(await micAsks(b), 0, 'no microphone prompt while the room is full');
    // A seat frees: B is welcomed, and then asked.
    await a.context().close();
    await waitState(b, 'starting', 5000);
    assert.equal(await micAsks(b), 1);
    await b.evaluate(() => { window.__micAllowed = true; });
    await waitState(b, 'ready', 10000);
    await b.context().close();
    console.log(`join form (${profile}): no violation in ${checked.length} states: ${checked.join(', ')}`);
  });
}

test('a microphone refused after the welcome leaves the room and says how to allow it', { timeout: 60000 }, async () => {
  const c = await h.browser({ denyMicrophone: true });
  await c.goto(`${url}?room=4711`);
  await c.getByLabel('Your name').fill('Cleo');
  await c.getByRole('button', { name: 'Join' }).click();
  await c.locator('#error:not([hidden])').waitFor({ timeout: 10000 });
  assert.match(await c.locator('#error').textContent(), /Microphone blocked/);
  // The seat is given back: another student gets in (the room holds one).
  const d = await h.browser({ wav: silence });
  await d.goto(`${url}?room=4711`);
  await d.getByLabel('Your name').fill('Dan');
  await d.getByRole('button', { name: 'Join' }).click();
  await waitState(d, 'ready', 10000);
});
