// The capture path's cost per 20 ms frame in the production wasm module (client-wasm/), driven as
// capture-worklet.js drives it: 128-sample quanta copied into the module's input buffer, pushed,
// packets taken. Runs unchanged under node and in a Chromium page (bench/capture_cost.mjs).
// Mean cost per frame over batches of 50 frames (1 s of audio), as bench/capture_bench.cpp does.
export function measure(w, speech, { runs = 5, seconds = 30 } = {}) {
  const quantum = 128, batchSamples = 50 * 960;
  const batches = [];
  for (let run = 0; run < runs; run++) {
    if (!w.ptt_capture_init(18, 1000, 20)) throw new Error('ptt_capture_init failed');
    w.ptt_capture_press();
    w.ptt_capture_grant(1);
    let input = new Float32Array(w.memory.buffer, w.ptt_capture_input(), quantum);
    let pos = 0, inBatch = 0, t = 1e6;
    let start = performance.now();
    for (let q = 0; q < (seconds * 48000) / quantum; q++) {
      if (input.buffer !== w.memory.buffer) input = new Float32Array(w.memory.buffer, w.ptt_capture_input(), quantum);
      for (let i = 0; i < quantum; i++) {
        input[i] = speech[pos];
        if (++pos === speech.length) pos = 0;
      }
      w.ptt_capture_push(quantum, t);
      w.ptt_capture_clear();
      t += (quantum * 1e6) / 48000;
      if ((inBatch += quantum) >= batchSamples) {
        const end = performance.now();
        batches.push(((end - start) * 1000) / 50);
        start = end;
        inBatch -= batchSamples;
      }
    }
  }
  return batches;
}
