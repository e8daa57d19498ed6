// The measure the browser tests hear speech with (speech_match.mjs), on speech altered the ways
// the server alters it when it catches up or waits for a late sender, and on speech it must not
// take for the student's.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeSpeech } from './harness.mjs';
import { envelope, matchTalk } from './speech_match.mjs';

let speech, other;
before(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptt-match-'));
  speech = makeSpeech(dir, 's', 'push to talk lets one student speak at a time while the professor hears every word clearly through the speakers of the lecture hall').samples;
  other = makeSpeech(dir, 'o', 'a queue of students waits politely while the first one asks about the homework due on thursday morning').samples;
  rmSync(dir, { recursive: true, force: true });
});

// 4 s of the speech from 0.3 s in, passed through `alter` (a list of [from, to) sample stretches
// to keep, and what to put after each).
const MS = 48;
function excerpt() { return speech.slice(300 * MS, 4300 * MS); }
const score = (samples) => matchTalk(envelope(samples), speech);
function concat(parts) {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

test('the speech itself scores as heard', () => {
  const r = score(excerpt());
  assert.ok(r.best >= 0.95, r.describe);
  assert.ok(Math.abs(r.heardS - 4) <= 0.05, `heard ${r.heardS} s of 4 s`);
});

test('time-reversed speech (same sounds, no words) does not', () => {
  const r = score(excerpt().reverse());
  assert.ok(r.best < 0.85, `reversed speech scored ${r.best.toFixed(3)}`);
});

// (0.83: the same voice's rhythm; below the 0.9 the browser tests ask for.)
test('another sentence by the same voice does not', () => {
  const r = score(other.slice(300 * MS, 4300 * MS));
  assert.ok(r.best < 0.9, `another sentence scored ${r.best.toFixed(3)}`);
});

test('speech with 40 ms of silence put in every 250 ms (a late sender waited for) is heard', () => {
  const x = excerpt(), parts = [];
  for (let i = 0; i < x.length; i += 250 * MS) parts.push(x.slice(i, i + 250 * MS), new Float32Array(40 * MS));
  const r = score(concat(parts));
  assert.ok(r.best >= 0.9, `${r.best.toFixed(3)}: ${r.describe}`);
  assert.ok(Math.abs(r.heardS - 4) <= 0.1, `heard ${r.heardS} s of 4 s`);
});

test('speech played 25 % faster by cutting 10 ms in every 40 ms (a catch-up) is heard', () => {
  const x = excerpt(), parts = [];
  for (let i = 0; i < x.length; i += 40 * MS) parts.push(x.slice(i, i + 30 * MS));
  const r = score(concat(parts));
  assert.ok(r.best >= 0.9, `${r.best.toFixed(3)}: ${r.describe}`);
  assert.ok(Math.abs(r.heardS - 4) <= 0.1, `heard ${r.heardS} s of 4 s`);
});
