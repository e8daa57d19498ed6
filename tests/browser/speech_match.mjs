// Was a student heard? Compares what the professor's speakers played (a sink capture) with what the
// student's fake microphone was playing, by the 10 ms RMS envelope: one alignment for the whole
// talk, then each 400 ms window aligned on its own within 150 ms of it (the audio held from press
// to grant arrives in a burst, and the jitter buffer later catches up that delay by skipping 20 ms
// packets, so one lag for a whole talk would measure the catch-up, not whether the student was heard).

// RMS per 10 ms.
export function envelope(x, from = 0, to = x.length) {
  const env = [];
  for (let i = from; i + 480 <= to; i += 480) {
    let e = 0;
    for (let j = i; j < i + 480; j++) e += x[j] * x[j];
    env.push(Math.sqrt(e / 480));
  }
  return env;
}
function pearson(a, b, lag) {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i + lag]; }
  ma /= n; mb /= n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] - ma, y = b[i + lag] - mb;
    ab += x * y; aa += x * x; bb += y * y;
  }
  return ab / Math.sqrt(aa * bb + 1e-30);
}
const loud = (env) => { const threshold = Math.max(...env) * 10 ** (-30 / 20); return env.map((v) => v > threshold); };
// The first talk in a capture, from `from`: from its first loud frame to the last one before `gap`
// quiet frames.
export function firstTalk(env, gap, from) {
  const on = loud(env);
  const first = on.indexOf(true, from);
  let last = first, quiet = 0;
  for (let i = first; i < on.length && quiet < gap; i++) {
    if (on[i]) { last = i; quiet = 0; } else quiet++;
  }
  return [first, last];
}
// Stretches of sound separated by at least `gap` quiet frames: [start, end) pairs.
export function segments(env, gap) {
  const on = loud(env);
  const out = [];
  let start = -1, quiet = 0;
  for (let i = 0; i <= on.length; i++) {
    if (i < on.length && on[i]) {
      if (start < 0) start = i;
      quiet = 0;
    } else if (start >= 0 && (++quiet >= gap || i === on.length)) {
      out.push([start, i - quiet + 1]);
      start = -1;
    }
  }
  return out;
}

// `talk`: the played envelope of one talk; `speech`: the samples the microphone loops. Returns the
// median window correlation (`best`), the length-weighted mean (`mean`), the span of speech the
// microphone heard under the talk's alignment (`heardS`), and a line describing the windows.
export function matchTalk(talk, speech) {
  const inEnv = envelope(speech);
  const looped = [...inEnv, ...inEnv, ...inEnv];
  const bestLagOf = (seg, from, to) => {
    let best = -1, bestLag = from;
    for (let lag = Math.max(0, from); lag <= to && lag + seg.length <= looped.length; lag++) {
      const c = pearson(seg, looped, lag);
      if (c > best) { best = c; bestLag = lag; }
    }
    return [best, bestLag];
  };
  const windowsAt = (lag) => {
    const out = [];
    for (const [s0, s1] of segments(talk, 25)) {
      for (let w = s0; w + 15 <= s1; w += 40) {
        const win = talk.slice(w, Math.min(w + 40, s1));
        const [c, at] = bestLagOf(win, lag + w - 15, lag + w + 15);
        out.push([c, win.length, w, at - w]);  // correlation, length, where, its own alignment
      }
    }
    return out;
  };
  const meanOf = (ws) => ws.reduce((s, [c, n]) => s + c * n, 0) / ws.reduce((s, [, n]) => s + n, 0);
  // The whole talk's alignment: the one under which its windows correlate best.
  let bestLag = 0, windows = [], mean = -1;
  for (let lag = 0; lag + talk.length <= looped.length; lag += 5) {
    const ws = windowsAt(lag), m = meanOf(ws);
    if (m > mean) { mean = m; bestLag = lag; windows = ws; }
  }
  // The window the catch-up falls in correlates poorly: the median says how the speech was heard
  // (time-reversed speech, as a check of the measure, stays below 0.85), the mean that no stretch
  // of it was lost.
  const best = windows.map(([c]) => c).sort((a, b) => a - b)[windows.length >> 1];
  // Duration: the span of speech the microphone heard in that window, under the windows' median
  // own alignment: the coarse search above may sit up to 15 frames off it, which moved the
  // window's edge into the file's silence when a talk began at the loop point.
  const ownLags = windows.map(([, , , at]) => at).sort((a, b) => a - b);
  const n = inEnv.length;
  const talkLag = ((ownLags.length ? ownLags[ownLags.length >> 1] : bestLag) % n + n) % n;  // may be just below 0
  const heard = loud(looped.slice(talkLag, talkLag + talk.length));
  const heardS = (heard.lastIndexOf(true) - heard.indexOf(true) + 1) / 100;
  const describe = `segments ${JSON.stringify(segments(talk, 25))}, alignment ${bestLag} (windows' median ${talkLag}) ` +
    `in a ${n}-frame loop; windows (start, own alignment, correlation): ` +
    windows.map(([c, , w, at]) => `${w}:${at}:${c.toFixed(2)}`).join(' ');
  return { best, mean, heardS, describe, windows: windows.length };
}
