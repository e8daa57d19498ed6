// The click train the latency benches play into the student's microphone, and how they read each
// click's delay from a recording whose left channel is the microphone and right the speakers.
import { writeFileSync } from 'node:fs';

const rate = 48000, period = 0.5, clickS = 0.04;

// A voiced click (harmonics of 220 Hz, 1 ms attack, 40 ms) every 500 ms: speech-like, so the
// student's VAD sends it and the denoiser keeps it.
export function clickTrain(file, seconds) {
  const n = Math.round(seconds * rate);
  const pcm = new Int16Array(n);
  for (let start = Math.round(0.5 * rate); start + clickS * rate < n; start += Math.round(period * rate)) {
    for (let i = 0; i < clickS * rate; i++) {
      const t = i / rate;
      const env = Math.min(1, t / 0.001) * Math.min(1, (clickS - t) / 0.01);
      let v = 0;
      for (let h = 1; h <= 10; h++) v += Math.sin(2 * Math.PI * 220 * h * t) / h;
      pcm[start + i] = Math.round(12000 * env * v / 2);
    }
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + n * 2, 4); header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 2, 28); header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34); header.write('data', 36); header.writeUInt32LE(n * 2, 40);
  writeFileSync(file, Buffer.concat([header, Buffer.from(pcm.buffer)]));
}

// 1 ms RMS envelope of one channel of interleaved stereo.
export function envelope(stereo, channel) {
  const frames = Math.floor(stereo.length / 2), step = rate / 1000, env = new Float64Array(Math.floor(frames / step));
  for (let k = 0; k < env.length; k++) {
    let e = 0;
    for (let i = k * step; i < (k + 1) * step; i++) e += stereo[2 * i + channel] ** 2;
    env[k] = Math.sqrt(e / step);
  }
  return env;
}

// Each click's onset in the input (ms), and its delay to the output: the lag (0 to 400 ms) that best
// correlates the input envelope around the click with the output's.
export function clickDelays(inEnv, outEnv) {
  const peak = Math.max(...inEnv), onsets = [];
  for (let k = 1; k < inEnv.length; k++)
    if (inEnv[k] > 0.2 * peak && inEnv[k - 1] <= 0.2 * peak && (onsets.length === 0 || k - onsets.at(-1) > 200)) onsets.push(k);
  const delays = [];
  for (const on of onsets) {
    const a = Array.from(inEnv.subarray(Math.max(0, on - 10), on + 60));
    let best = -1, bestLag = -1;
    for (let lag = 0; lag <= 400 && on - 10 + lag + a.length <= outEnv.length; lag++) {
      let ab = 0, aa = 0, bb = 0;
      const ma = a.reduce((x, y) => x + y, 0) / a.length;
      let mb = 0;
      for (let i = 0; i < a.length; i++) mb += outEnv[on - 10 + lag + i];
      mb /= a.length;
      for (let i = 0; i < a.length; i++) {
        const x = a[i] - ma, y = outEnv[on - 10 + lag + i] - mb;
        ab += x * y; aa += x * x; bb += y * y;
      }
      const c = ab / Math.sqrt(aa * bb + 1e-30);
      if (c > best) { best = c; bestLag = lag; }
    }
    if (best > 0.8) delays.push(bestLag);
  }
  return { onsets: onsets.length, delays };
}
