#!/usr/bin/env node
// Feedback from the speakers into a student's microphone, through the room rig of
// tests/browser/feedback.test.mjs (PulseAudio's module-loopback from the server's sink into the
// page's microphone, at a set gain and delay, under the student's own voice): one talk per row, a
// sentence said once and the button held 4 s more.
// Rows with --feedback warn (nothing changes what is played): the server's coupling estimate (the
// talk's strongest) against the rig's set gain and delay. The estimate is of the whole way back:
// the rig's gain times the page's own gain control, and the rig's delay plus the loopback's own
// buffering, the browser's capture and the network to the server, so its error against the set figures is printed, not
// hidden. Rows with --feedback protect: the time from the loop's first sound at the speakers to
// the protection lowering the playback (the server's log line, on the same clock), and how long
// the loop sounded after the last word, and the coupling the echo canceller found, if engaged.
// Needs both builds. Usage: node bench/feedback.mjs
import { Harness, makeSpeech } from '../tests/browser/harness.mjs';
import { levels, talkThroughTheRoom } from '../tests/browser/room_rig.mjs';

let h = null;
const logTime = (line) => {  // spdlog's "[YYYY-MM-DD HH:MM:SS.mmm]" (local time) as epoch ms
  const m = line.match(/^\[(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)\.(\d+)\]/);
  return m ? new Date(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]).getTime() : NaN;
};
try {
  let speech, delayNow = null;
  const row = async (mode, gainDb, delayMs) => {
    if (delayMs !== delayNow) {  // another loopback delay: a new rig
      await h?.close();
      h = new Harness();
      await h.startPulse({ room: { gainDb, delayMs } });
      speech = makeSpeech(h.dir, 'speech', 'push to talk lets one student speak at a time while the professor hears', 0.3);
      delayNow = delayMs;
    }
    const r = await talkThroughTheRoom(h, { serverArgs: ['--feedback', mode, '--log-level', 'debug'], gainDb, name: 'Bench', speech, holdMs: 4000 });
    const lines = r.log.split('\n');
    const report = lines.find((l) => l.includes('talk 1 audio:')) ?? '';
    const lowered = lines.find((l) => /talk 1: the speakers come back/.test(l));
    const lv = levels(r.out);
    const onset = lv.findIndex((v) => v > -40);
    let tail = 0;
    for (let i = Math.round((r.saidEnd - r.recStart) / 100); i < lv.length && lv[i] > -45; i++) tail++;
    return {
      coupling: Number(report.match(/feedback coupling (-?[\d.]+) dB/)?.[1]),
      delay: Number(report.match(/dB at (\d+) ms, playback lowered/)?.[1]),
      loweredDb: Number(report.match(/playback lowered (-?[\d.]+) dB$/)?.[1] ?? 0),
      suppressS: lowered && onset >= 0 ? (logTime(lowered) - (r.recStart + onset * 100)) / 1000 : NaN,
      tailS: tail / 10,
      // The last stage: the coupling the echo canceller found, if it was engaged.
      cancelled: (() => {
        const played = lines.find((l) => l.includes('talk 1 played')) ?? '';
        const m = played.match(/cancelled from the talk \(found at (-?\d+) dB\)/);
        return m ? `found the room at ${m[1]} dB` : played.includes('echo canceller engaged') ? 'engaged, found nothing' : 'not engaged';
      })(),
    };
  };
  console.log('Coupling estimate against the room rig (--feedback warn; one talk per row; the estimate includes the page\'s gain control, the loopback\'s buffering, the browser\'s capture and the network):');
  console.log('| rig gain | rig delay | estimated coupling | error | estimated delay | error |');
  console.log('|---|---|---|---|---|---|');
  const estimates = [];
  for (const delayMs of [50, 150]) {
    for (const gainDb of [-6, 0, 6]) {
      const r = await row('warn', gainDb, delayMs);
      estimates.push({ gainDb, delayMs, ...r });
      console.log(`| ${gainDb} dB | ${delayMs} ms | ${r.coupling.toFixed(1)} dB | ${(r.coupling - gainDb).toFixed(1)} dB | ${r.delay} ms | ${r.delay - delayMs} ms |`);
    }
  }
  console.log('Protection against a howl (--feedback protect; a loop that keeps sounding without it at these gains):');
  console.log('| rig gain | rig delay | first sound to playback lowered | lowered by | sounded after the last word | echo canceller |');
  console.log('|---|---|---|---|---|---|');
  const protect = [];
  for (const [gainDb, delayMs] of [[0, 150], [6, 150], [0, 50], [6, 50]]) {
    const r = await row('protect', gainDb, delayMs);
    protect.push(r);
    console.log(`| ${gainDb} dB | ${delayMs} ms | ${r.suppressS.toFixed(2)} s | ${r.loweredDb.toFixed(0)} dB | ${r.tailS.toFixed(1)} s | ${r.cancelled} |`);
  }
  const med = (v) => { const s = [...v].sort((a, b) => a - b); return s[s.length >> 1]; };
  console.log(`RESULT feedback delay_error_median_ms=${med(estimates.map((e) => e.delay - e.delayMs))} ` +
              `coupling_error_median_db=${med(estimates.map((e) => e.coupling - e.gainDb)).toFixed(1)} ` +
              `suppress_median_s=${med(protect.map((p) => p.suppressS)).toFixed(2)} tail_max_s=${Math.max(...protect.map((p) => p.tailS)).toFixed(1)}`);
} finally {
  await h?.close();
}
