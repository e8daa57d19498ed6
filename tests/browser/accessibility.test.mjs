// Every state of the student's page, on a phone (touch) and a desktop (keyboard) profile: each is
// photographed into the test's output folder and checked with axe-core (from npm, injected into
// the page), which must find no violation. The console's login and room view are checked too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Harness, joinAs, waitState, checkA11y as check } from './harness.mjs';

const token = 'accessibility-token-0123';
const h = new Harness();
let url, port, silence;

before(async () => {
  await h.startPulse();
  url = await h.startServer(['--no-playback', '--admin-token', token, '--max-talk', '13', '--silence-release', '0']);
  port = Number(new URL(url).port);
  silence = path.join(h.dir, 'silence.wav');
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', silence, 'trim', '0', '5']);
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

const admin = (what) => execFileSync('curl', ['-sk', '-X', 'POST', '-H', `Authorization: Bearer ${token}`, `${url}admin/${what}`]);

for (const profile of ['phone', 'desktop']) {
  test(`every state of the student's page passes axe-core on the ${profile} profile`, { timeout: 180000 }, async () => {
    const touch = profile === 'phone';
    const checked = [];
    const a = await h.browser({ wav: silence, touch });
    const b = await h.browser({ wav: silence, touch });
    if (!touch) await a.setViewportSize({ width: 1280, height: 800 });
    const hold = async (page) => {
      const box = await page.locator('#talk').boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
    };

    await a.goto(url);
    await a.locator('#app[data-state="join"]').waitFor({ timeout: 15000 });
    await check(a, `${profile}-join`, checked);
    await a.getByLabel('Your name').fill('\u200b');
    await a.getByRole('button', { name: 'Join' }).click();
    await a.locator('#join-error', { hasText: /Type a name/ }).waitFor({ timeout: 3000 });
    await check(a, `${profile}-join-error`, checked);
    await joinAs(a, url, `A-${profile}`);
    await joinAs(b, url, `B-${profile}`);
    await check(a, `${profile}-ready`, checked);

    await hold(a);
    await waitState(a, 'live', 5000);
    await check(a, `${profile}-live`, checked);
    await hold(b);
    await waitState(b, 'busy', 3000);
    await check(b, `${profile}-busy`, checked);
    await b.mouse.up();
    await a.locator('#app.ending').waitFor({ timeout: 8000 });
    await check(a, `${profile}-last-seconds`, checked);
    admin('revoke');
    await waitState(a, 'revoked', 3000);
    await check(a, `${profile}-revoked`, checked);
    await a.mouse.up();
    await waitState(a, 'ready', 3000);

    // A line: B raises a hand while A talks, and gets the turn.
    admin('mode?mode=queue');
    await hold(a);
    await waitState(a, 'live', 5000);
    if (touch) await b.locator('#talk').tap();
    else await b.locator('#talk').click();
    await waitState(b, 'queued', 3000);
    await check(b, `${profile}-hand-raised`, checked);
    await a.mouse.up();
    await waitState(b, 'your_turn', 3000);
    await check(b, `${profile}-your-turn`, checked);
    await waitState(b, 'ready', 8000);  // the turn passes
    admin('mode?mode=first_come');

    // The server goes away.
    await h.stopServerAndWait();
    await waitState(a, 'unreachable', 5000);
    await check(a, `${profile}-unreachable`, checked);
    url = await h.startServer(['--no-playback', '--admin-token', token, '--max-talk', '13', '--silence-release', '0'], { port });
    await waitState(a, 'ready', 5000);
    await a.context().close();
    await b.context().close();
    console.log(`accessibility (${profile}): no violation in ${checked.length} states: ${checked.join(', ')}`);
  });
}

test('the console passes axe-core, logged out and running the room', { timeout: 60000 }, async () => {
  const checked = [];
  const c = await h.browser({ wav: silence });
  await c.setViewportSize({ width: 1280, height: 800 });
  await c.goto(`${url}console.html`);
  await c.locator('#login').waitFor({ state: 'visible', timeout: 10000 });
  await check(c, 'console-login', checked);
  await c.goto(`${url}console.html#token=${token}`);
  await c.locator('#room').waitFor({ state: 'visible', timeout: 10000 });
  const s = await h.browser({ wav: silence });
  await joinAs(s, url, 'S');
  await c.locator('#students tr').first().waitFor({ timeout: 5000 });
  await check(c, 'console-room', checked);
  await c.getByRole('button', { name: 'Show the join screen (for the projector)' }).click();
  await check(c, 'console-join-view', checked);
});
