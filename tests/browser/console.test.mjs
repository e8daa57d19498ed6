// The professor's console (web/console.html) in the browser, against the real server: it opens from
// the terminal's link, shows the students, the live talk's timer, the line; the professor takes the
// floor back, runs the room in moderated mode (B waits until granted, then is heard through the
// speakers, its level on the console's meter), auto-approves the first in line after a countdown
// the student sees, removes a student who cannot rejoin at once, and plays a recording. Access: no cookie,
// a wrong token, a student's socket and an action after logout are each refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Harness, makeSpeech, joinAs, sleepMs, waitState, artifacts, recordedTalk } from './harness.mjs';
import { envelope, firstTalk, matchTalk } from './speech_match.mjs';

const h = new Harness();
const token = 'console-test-token-0123';
let url, consolePage, pageA, pageB, pageC, speechA, speechB;

before(async () => {
  await h.startPulse();
  url = await h.startServer(['--admin-token', token]);
  const silence = path.join(h.dir, 'silence.wav');
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', silence, 'trim', '0', '5']);
  speechA = makeSpeech(h.dir, 'a', 'good morning everyone, I have a short comment on the reading for today');
  speechB = makeSpeech(h.dir, 'b', 'may I ask a question about the last slide please, and about the homework for next week');
  consolePage = await h.browser({ wav: silence });
  await consolePage.setViewportSize({ width: 1280, height: 800 });
  pageA = await h.browser({ wav: speechA.wav });
  pageB = await h.browser({ wav: speechB.wav });
  pageC = await h.browser({ wav: silence });
  await joinAs(pageA, url, 'A');
  await joinAs(pageB, url, 'B');
  await joinAs(pageC, url, 'C');
});

after(async () => {
  if (process.exitCode) console.log(h.logs());
  await h.close();
});

const students = (p) => p.locator('#students tr');
const row = (name) => consolePage.locator(`#students tr[data-name="${name}"]`);

test('the console opens from the link, runs the class, and refuses those without the token', { timeout: 120000 }, async () => {
  // A wrong token in the link: the login form, and nothing of the room.
  await consolePage.goto(`${url}console.html#token=wrong`);
  await consolePage.locator('#login').waitFor({ state: 'visible', timeout: 10000 });
  assert.match(await consolePage.locator('#login-error').textContent(), /not this server/);
  assert.ok(await consolePage.locator('#room').isHidden());
  // The terminal's link: the token leaves the address bar at once.
  await consolePage.goto(`${url}console.html#token=${token}`);
  await consolePage.locator('#room').waitFor({ state: 'visible', timeout: 10000 });
  assert.ok(!consolePage.url().includes(token), `the token left the address bar: ${consolePage.url()}`);
  await students(consolePage).nth(2).waitFor({ timeout: 5000 });
  assert.deepEqual((await consolePage.locator('#students tr').evaluateAll((rows) => rows.map((r) => r.dataset.name))).sort(), ['A', 'B', 'C']);

  // The join screen for the projector: the address and its QR code, full screen.
  await consolePage.getByRole('button', { name: 'Show the join screen (for the projector)' }).click();
  await consolePage.locator('#join-view').waitFor({ state: 'visible', timeout: 3000 });
  // Students are given the page that explains the certificate warning first (plain HTTP).
  assert.equal(await consolePage.locator('#join-address').textContent(), url.replace('https:', 'http:'));
  const qrWidth = await consolePage.locator('#join-qr').evaluate(async (img) => { await img.decode(); return img.naturalWidth; });
  assert.ok(qrWidth > 0, 'the QR code loaded');
  await consolePage.screenshot({ path: path.join(artifacts, 'console-join-view.png') });
  await consolePage.keyboard.press('Escape');
  await consolePage.locator('#join-view').waitFor({ state: 'hidden', timeout: 3000 });

  // A talks: live on the console, the timer runs, the meter moves with A's voice.
  await pageA.keyboard.down('Space');
  await waitState(pageA, 'live', 5000);
  await consolePage.locator('#holder', { hasText: 'A is speaking' }).waitFor({ timeout: 3000 });
  assert.equal(await row('A').locator('td').nth(1).textContent(), 'live');
  const t1 = await consolePage.locator('#timer').textContent();
  const levels = [];
  for (let i = 0; i < 13; i++) {
    await sleepMs(100);
    levels.push(await row('A').locator('meter.row-level').evaluate((m) => m.value));
  }
  const t2 = await consolePage.locator('#timer').textContent();
  assert.match(t2, /^0:0\d of 2:00/);
  assert.notEqual(t1, t2, `the timer runs (${t1}, then ${t2})`);
  const distinct = new Set(levels).size;
  console.log(`console: A's meter over 1.3 s: ${levels.map((l) => Math.round(l)).join(' ')} dBFS`);
  assert.ok(Math.max(...levels) > -40 && distinct >= 3, `the meter moves with A's speech (${levels.join(', ')})`);

  // The professor takes the floor back; A's page says so.
  await consolePage.getByRole('button', { name: 'Take the floor back' }).click();
  await pageA.locator('#status', { hasText: 'The professor took the floor back.' }).waitFor({ timeout: 3000 });
  await pageA.keyboard.up('Space');
  await consolePage.locator('#holder', { hasText: 'Nobody is speaking.' }).waitFor({ timeout: 3000 });
  // A's talk has finished playing before the sink is recorded for B's.
  for (const end = performance.now() + 15000; !h.logs().includes('talk 1 played') && performance.now() < end;) await sleepMs(100);

  // Moderated: B's request waits in the console's line until the professor grants it.
  await consolePage.getByLabel('Moderated (you grant)').check();
  await consolePage.locator('input[value="moderated"]:checked').waitFor({ timeout: 3000 });
  const sink = path.join(h.dir, 'sink.raw');
  h.startSinkRecording(sink);
  await sleepMs(500);
  const box = await pageB.locator('#talk').boundingBox();
  await pageB.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await pageB.mouse.down();
  await waitState(pageB, 'queued', 3000);
  assert.equal(await pageB.locator('#status').textContent(), 'Waiting for the professor to give you the floor. You are number 1 in line.');
  await consolePage.locator('#queue li', { hasText: 'B' }).waitFor({ timeout: 3000 });
  await sleepMs(1500);
  assert.equal(await pageB.locator('#app').getAttribute('data-state'), 'queued', 'B is not live before the grant');
  await consolePage.locator('#queue li', { hasText: 'B' }).getByRole('button', { name: 'Give the floor' }).click();
  await waitState(pageB, 'live', 3000);
  const liveAt = performance.now();
  // The live talk's level at the speakers, on the console and in B's row, with its loss.
  await sleepMs(1500);
  const level = await consolePage.locator('#live-level').evaluate((m) => m.value);
  const rowLevel = await row('B').locator('meter.row-level').evaluate((m) => m.value);
  const liveStats = await consolePage.locator('#live-stats').textContent();
  console.log(`console: while B talks, level ${level} dBFS (B's row ${rowLevel}); "${liveStats}"`);
  assert.ok(level > -40, `the console's meter moves with B's speech (${level} dBFS)`);
  assert.ok(rowLevel > -40, `B's row shows the meter too (${rowLevel} dBFS)`);
  assert.match(liveStats, /^Level -?\d+ dBFS · lost \d+(\.\d)? %, late \d+(\.\d)? %$/);
  await sleepMs(1500);
  await pageB.mouse.up();
  const heldS = (performance.now() - liveAt) / 1000;
  await waitState(pageB, 'ready', 2000);
  const out = await h.stopSinkRecordingAfterTalk(2, 500);
  const outEnv = envelope(out);
  const [o1, o2] = firstTalk(outEnv, 150, 0);
  assert.ok(o1 >= 0, 'B was played');
  const { best, mean } = matchTalk(outEnv.slice(o1, o2 + 1), speechB.samples);
  console.log(`console: B granted by the professor, held ${heldS.toFixed(2)} s; played ${((o2 - o1 + 1) / 100).toFixed(2)} s; envelope correlation ${best.toFixed(3)}, mean ${mean.toFixed(3)}`);
  assert.ok(best > 0.9, `B's speech reached the speakers (correlation ${best.toFixed(3)})`);

  // Muted speakers: B's next talk plays nothing, and is still recorded.
  await consolePage.getByLabel('Mute the speakers (talks are still recorded)').check();
  const muted = path.join(h.dir, 'sink-muted.raw');
  h.startSinkRecording(muted);
  await sleepMs(500);
  await pageB.mouse.down();
  await waitState(pageB, 'queued', 3000);
  await consolePage.locator('#queue li', { hasText: 'B' }).getByRole('button', { name: 'Give the floor' }).click();
  await waitState(pageB, 'live', 3000);
  await sleepMs(2500);
  await pageB.mouse.up();
  await waitState(pageB, 'ready', 2000);
  for (const end = performance.now() + 15000; !h.logs().includes('talk 3 played') && performance.now() < end;) await sleepMs(100);
  const quiet = await h.stopSinkRecording();
  const peak = quiet.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const recordedB2 = recordedTalk(h, 'B-2');
  const recordedPeak = recordedB2 ? recordedB2.reduce((m, v) => Math.max(m, Math.abs(v)), 0) : 0;
  console.log(`console: muted, the sink's peak ${peak.toFixed(4)}; B-2.opus peak ${recordedPeak.toFixed(3)}`);
  assert.ok(peak < 0.001, `nothing was played while muted (peak ${peak})`);
  assert.ok(recordedPeak > 0.1, `the muted talk was recorded (peak ${recordedPeak})`);
  await consolePage.getByLabel('Mute the speakers (talks are still recorded)').uncheck();
  // B's row keeps the finished talk's loss; nothing was lost on loopback. (On a busy machine the
  // console may hear of the floor's release a moment after the server logged the talk.)
  let lossB = '';
  for (const end = performance.now() + 3000; lossB !== '0 %' && performance.now() < end; await sleepMs(100))
    lossB = await row('B').locator('td').nth(4).textContent();
  assert.equal(lossB, '0 %');

  // Auto-approve: A, first in line, sees a countdown and is granted when it ends, with no click.
  await consolePage.locator('#auto-approve').selectOption('3');
  await consolePage.locator('#auto-approve-line').waitFor({ state: 'visible', timeout: 3000 });
  await pageA.keyboard.down('Space');
  await waitState(pageA, 'queued', 3000);
  await pageA.locator('#status', { hasText: /^The floor is yours in [1-3] s: keep holding\.$/ }).waitFor({ timeout: 3000 });
  await consolePage.locator('#queue li', { hasText: /gets the floor in [0-3] s/ }).waitFor({ timeout: 3000 });
  const queuedAt = performance.now();
  await waitState(pageA, 'live', 6000);
  const waitedS = (performance.now() - queuedAt) / 1000;
  console.log(`console: auto-approve after 3 s: A went live ${waitedS.toFixed(2)} s after the countdown showed`);
  assert.ok(waitedS > 1.5 && waitedS < 4.5, `A waited the countdown (${waitedS.toFixed(2)} s)`);
  // C asks meanwhile and waits in the line: the screenshot shows a class in progress (taken here,
  // away from the talks whose sound is measured: a full-page capture can stall the browser).
  await pageC.keyboard.down('Space');
  await consolePage.locator('#queue li', { hasText: 'C' }).waitFor({ timeout: 3000 });
  await sleepMs(500);
  await consolePage.screenshot({ path: path.join(artifacts, 'console-desktop.png'), fullPage: true });
  await pageC.keyboard.up('Space');  // C's hand stays up...
  await sleepMs(300);
  assert.equal(await consolePage.locator('#queue li', { hasText: 'C' }).count(), 1);
  await pageC.keyboard.press('Space');  // ...until C presses again
  await consolePage.locator('#queue li').waitFor({ state: 'detached', timeout: 3000 });
  await pageA.keyboard.up('Space');
  await waitState(pageA, 'ready', 2000);
  await consolePage.locator('#auto-approve').selectOption('0');

  // Remove C: C's page says why, and the same page cannot rejoin for a while.
  await row('C').getByRole('button', { name: 'Remove' }).click();
  await pageC.locator('#join-error', { hasText: 'The professor removed you' }).waitFor({ timeout: 3000 });
  await row('C').waitFor({ state: 'detached', timeout: 3000 });
  await pageC.getByRole('button', { name: 'Join' }).click();
  await sleepMs(1000);
  assert.match(await pageC.locator('#join-error').textContent(), /The professor removed you/);
  assert.equal(await row('C').count(), 0, 'C did not get back in');

  // The recordings of this session play in the console.
  const audio = consolePage.locator('#recordings li', { hasText: 'B-1.opus' }).locator('audio');
  await audio.waitFor({ timeout: 5000 });
  const ended = await audio.evaluate((a) => new Promise((resolve, reject) => {
    a.muted = true;
    a.addEventListener('ended', () => resolve(a.duration), { once: true });
    a.addEventListener('error', () => reject(new Error(`audio error ${a.error?.code}`)), { once: true });
    a.play().catch(reject);
  }));
  assert.ok(ended > 1.5, `B's recording played to its end (${ended} s)`);

  // The session log lists every talk with its length and how it ended; the console exports it as CSV.
  await consolePage.locator('#log tr', { hasText: 'revoked: the professor' }).waitFor({ timeout: 3000 });
  assert.equal(await consolePage.locator('#csv').getAttribute('href'), '/admin/log.csv');
  const csv = await consolePage.evaluate(async () => (await fetch('/admin/log.csv')).text());
  const talks = csv.split('\r\n').filter((line) => line.includes(',ended,'));
  console.log(`console: session log's talks:\n${talks.join('\n')}`);
  assert.equal(talks.length, 4, csv);
  assert.match(talks[3], /,ended,A,released,\d+\.\d$/);  // the auto-approved one
  assert.match(csv, /,granted,A,auto-approved,/);
  assert.match(csv, /,auto-approve,,after 3 s,/);
  assert.match(talks[2], /,ended,B,released,\d+\.\d$/);  // the muted one
  assert.match(csv, /,output,,muted,/);
  assert.match(talks[0], /,ended,A,revoked: the professor,\d+\.\d$/);
  assert.match(talks[1], /,ended,B,released,[3-4]\.\d$/);  // B's 3 s, from the grant
  assert.match(csv, /,granted,B,by the professor,/);
  assert.match(csv, /,removed,C,by the professor,/);

  // Access. A student's page: no console channel without the login, no login with a wrong token, and
  // a console message on the student's own socket is refused as not a student message.
  const refused = await pageA.evaluate(async () => {
    const noLogin = await new Promise((resolve) => {
      const w = new WebSocket(`wss://${location.host}/console/ws`);
      w.onopen = () => resolve('opened');
      w.onerror = () => resolve('refused');
    });
    const wrong = (await fetch('/console/login', { method: 'POST', body: 'guess' })).status;
    const status = (await fetch('/admin/status')).status;
    return { noLogin, wrong, status };
  });
  assert.deepEqual(refused, { noLogin: 'refused', wrong: 401, status: 401 });
  // A logout ends its login's channels at once (the page's own included), and an action sent on one
  // after the logout is refused: nothing changes.
  const afterLogout = await consolePage.evaluate(async () => {
    const w = new WebSocket(`wss://${location.host}/console/ws`);
    const got = [];
    const closed = new Promise((resolve) => { w.onclose = (e) => resolve(e.code); });
    w.onmessage = (e) => got.push(JSON.parse(e.data));
    await new Promise((resolve) => { w.onopen = resolve; });
    await fetch('/console/logout', { method: 'POST' });
    if (w.readyState === WebSocket.OPEN) w.send(JSON.stringify({ type: 'mode', mode: 'first_come' }));
    const code = await closed;
    return { mode: got[0]?.mode, errors: got.filter((m) => m.type === 'error').map((m) => m.message), code };
  });
  assert.equal(afterLogout.mode, 'moderated');
  assert.deepEqual(afterLogout.errors.slice(0, 1), ['logged out: log in again'], JSON.stringify(afterLogout));
  assert.equal(afterLogout.code, 1008);
  await consolePage.locator('#login').waitFor({ state: 'visible', timeout: 5000 });
  const status = JSON.parse(execFileSync('curl', ['-sk', '-H', `Authorization: Bearer ${token}`, `${url}admin/status`]).toString());
  assert.equal(status.floor_mode, 'moderated', 'no action after the logout changed anything');
});
