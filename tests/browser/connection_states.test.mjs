// Honest connection states on the student's page: when the server goes away the page says so and
// counts down to its next try, with "Retry now"; once the server is back the student is back
// within 2 s, without touching anything; a full room says it is full, not that the server cannot
// be reached.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Harness, joinAs, sleepMs, waitState, artifacts } from './harness.mjs';

const h = new Harness();
let url, port, silence;

before(async () => {
  await h.startPulse();
  url = await h.startServer(['--no-playback']);
  port = Number(new URL(url).port);
  silence = path.join(h.dir, 'silence.wav');
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', silence, 'trim', '0', '5']);
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

test('a restarted server has its students back within 2 s; the room-full state says so', { timeout: 120000 }, async () => {
  const a = await h.browser({ wav: silence });
  await joinAs(a, url, 'A');

  // The server goes away: the page says so, counts down, and offers to retry now.
  await h.stopServerAndWait();
  await waitState(a, 'unreachable', 5000);
  const status = a.locator('#status');
  assert.match(await status.textContent(), /^Can't reach the server\. Retrying in \d s…$/);
  assert.ok(await a.getByRole('button', { name: 'Retry now' }).isVisible());
  await a.screenshot({ path: path.join(artifacts, 'student-unreachable.png') });
  await sleepMs(4000);  // the retries back off meanwhile

  // Back on the same port: the page rejoins by itself.
  await h.startServer(['--no-playback'], { port });
  const back = performance.now();
  await waitState(a, 'ready', 5000);
  const rejoinS = (performance.now() - back) / 1000;
  console.log(`connection states: back ${rejoinS.toFixed(2)} s after the restarted server was ready`);
  assert.ok(rejoinS < 2, `rejoined in ${rejoinS.toFixed(2)} s`);
  assert.ok(await a.getByRole('button', { name: 'Retry now' }).isHidden());

  // "Retry now" tries at once: with the server down for long, then back, one press brings the
  // student back without waiting for the countdown. (On a busy machine the page's own retry may
  // win the race to the restarted server; then there is nothing left to press.)
  await h.stopServerAndWait();
  await waitState(a, 'unreachable', 5000);
  await sleepMs(6000);
  await h.startServer(['--no-playback', '--max-clients', '1'], { port });
  const pressedAt = performance.now();
  const retry = a.getByRole('button', { name: 'Retry now' });
  const pressed = await retry.click({ timeout: 1000 }).then(() => true, () => false);
  await waitState(a, 'ready', 3000);
  console.log(`connection states: back ${((performance.now() - pressedAt) / 1000).toFixed(2)} s after ` +
              (pressed ? '"Retry now"' : 'the restart (the page came back before the press)'));

  // A full room (--max-clients 1, A holds the seat): B is told the room is full and keeps trying.
  const b = await h.browser({ wav: silence });
  await b.goto(url);
  await b.getByLabel('Your name').fill('B');
  await b.getByRole('button', { name: 'Join' }).click();
  await b.locator('#status', { hasText: /^The room is full\. Retrying in \d s…$/ }).waitFor({ timeout: 5000 });
  assert.doesNotMatch(await b.locator('#status').textContent(), /reach/);
  await b.screenshot({ path: path.join(artifacts, 'student-room-full.png') });
  // A seat frees: B gets in without doing anything.
  await a.close();
  await waitState(b, 'ready', 5000);
});
