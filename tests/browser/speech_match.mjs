// Was a student heard? Compares what the professor's speakers played (a sink capture) with what the
// student's fake microphone was playing, by the 10 ms RMS envelope: one alignment for the whole
// talk, then each 400 ms window aligned on its own within 150 ms of it (the audio held from press
// to grant arrives in a burst, and the jitter buffer later catches up that delay by skipping silence
// and compressing speech, so one lag for a whole talk would measure the catch-up, not whether the
// student was heard). tests/browser/speech_match.test.mjs checks the measure itself.

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

// `talk`: the played envelope of one talk; `speech`: the samples the microphone loops. The talk is
// aligned to the speech by dynamic time warping of the two envelopes (in dB), with the local speed
// bounded to 0.5 to 2: the server may put time in (concealment while it waits for a late sender)
// and take it out (skipped silence, compressed speech), and an alignment with one lag per window
// scored such speech as unheard (speech_match.test.mjs shows both). The correlation is then taken
// between each played frame and the speech frame it is aligned with, per 400 ms window: the median
// window (`best`) says how the speech was heard, the length-weighted mean (`mean`) that no
// stretch of it was lost; `heardS` is the span of the speech the talk covers.
// The cost of a step off the diagonal (dB): time is put in or taken out only where the envelopes
// ask for it. Without it, warping made time-reversed speech score 0.87; with it 0.73, while the
// server's own alterations keep 0.97 and above (speech_match.test.mjs).
const WARP = 8;
export function matchTalk(talk, speech) {
  const inEnv = envelope(speech);
  const looped = [...inEnv, ...inEnv, ...inEnv];
  const n = talk.length, m = looped.length;
  const db = (env) => {
    const floor = Math.max(...env) * 10 ** (-50 / 20) + 1e-9;
    return env.map((v) => 20 * Math.log10(Math.max(v, floor)));
  };
  const a = db(talk), b = db(looped);
  const d = (i, j) => Math.abs(a[i] - b[j]);
  // Subsequence DTW (free start and end in the looped speech), steps (1,1), (1,2) and (2,1).
  const D = new Float64Array(n * m).fill(Infinity);
  const from = new Int8Array(n * m);  // 0: start, 1: (1,1), 2: (1,2), 3: (2,1)
  for (let j = 0; j < m; j++) D[j] = d(0, j);
  for (let i = 1; i < n; i++) {
    for (let j = 1; j < m; j++) {
      let best = D[(i - 1) * m + j - 1], how = 1;
      if (j >= 2) {
        const c = D[(i - 1) * m + j - 2] + d(i, j - 1) + WARP;
        if (c < best) { best = c; how = 2; }
      }
      if (i >= 2) {
        const c = D[(i - 2) * m + j - 1] + d(i - 1, j) + WARP;
        if (c < best) { best = c; how = 3; }
      }
      D[i * m + j] = best + d(i, j);
      from[i * m + j] = how;
    }
  }
  let end = 0;
  for (let j = 1; j < m; j++) if (D[(n - 1) * m + j] < D[(n - 1) * m + end]) end = j;
  // The speech frame each played frame is aligned with.
  const match = new Int32Array(n);
  for (let i = n - 1, j = end; i >= 0;) {
    match[i] = j;
    const how = from[i * m + j];
    if (i === 0 || how === 0) break;
    if (how === 1) { i--; j--; }
    else if (how === 2) { i--; j -= 2; }
    else { match[i - 1] = j; i -= 2; j--; }
  }
  const aligned = Array.from(match, (j) => looped[j]);
  const windows = [];
  for (const [s0, s1] of segments(talk, 25)) {
    for (let w = s0; w + 15 <= s1; w += 40) {
      const e = Math.min(w + 40, s1);
      windows.push([pearson(talk.slice(w, e), aligned.slice(w, e), 0), e - w, w, match[w] - w]);
    }
  }
  // A talk begins and ends mid-word (at the press, at the release), where a 10 ms envelope has
  // nothing before or after it to be aligned by: the recording of what a browser sent scored 0.26
  // on its first window with the rest above 0.94. With four windows or more, the first and the last
  // are shown but not scored.
  const scored = windows.length >= 4 ? windows.slice(1, -1) : windows;
  const meanOf = (ws) => ws.reduce((s, [c, k]) => s + c * k, 0) / ws.reduce((s, [, k]) => s + k, 0);
  const mean = scored.length ? meanOf(scored) : -1;
  const best = scored.length ? scored.map(([c]) => c).sort((x, y) => x - y)[scored.length >> 1] : -1;
  // The span of speech covered: from the first to the last loud speech frame the talk is aligned with.
  const on = loud(looped);
  let first = -1, last = -1;
  for (let i = 0; i < n; i++) {
    if (!on[match[i]]) continue;
    if (first < 0) first = match[i];
    last = match[i];
  }
  const heardS = first < 0 ? 0 : (last - first + 1) / 100;
  const describe = `segments ${JSON.stringify(segments(talk, 25))}, speech frames ${match[0]} to ${match[n - 1]} ` +
    `in a ${inEnv.length}-frame loop; windows (start, alignment, correlation): ` +
    windows.map(([c, , w, at]) => `${w}:${at}:${c.toFixed(2)}`).join(' ');
  return { best, mean, heardS, describe, windows: scored.length };
}
