// The AudioWorklet processor: hands each 128-sample quantum to the C++ capture pipeline in the wasm
// module (noise suppression, gain, voice activity, Opus, framing) and posts the framed packets to
// the page, which only forwards them to the WebSocket.
import { instantiate } from './ptt-wasm.js';

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { module, agcMaxGainDb, prerollMs, clockOffsetUs } = options.processorOptions;
    try {
      this.w = instantiate(module);
      if (!this.w.ptt_capture_init(agcMaxGainDb, prerollMs)) throw new Error('capture pipeline failed to start');
    } catch (err) {
      this.port.postMessage({ type: 'error', message: String(err) });
      throw err;
    }
    this.input = new Float32Array(this.w.memory.buffer, this.w.ptt_capture_input(), 1024);
    this.clockOffsetUs = clockOffsetUs; // page clock (us) minus currentTime (us)
    this.lastReport = 0;
    // The render clock against the wall clock: the smallest Date.now() - currentTime over a second
    // is when a quantum's samples were due here (one render callback runs several quanta at once).
    this.gapMs = Infinity;
    this.gapSince = 0;
    this.port.onmessage = ({ data }) => {
      switch (data.type) {
        case 'press': this.w.ptt_capture_press(); break;
        case 'grant': this.w.ptt_capture_grant(data.talk); this.flush(); break;
        case 'release': this.w.ptt_capture_release(); break;
        case 'clock': this.clockOffsetUs = data.offsetUs; break;
      }
    };
  }

  flush() {
    const n = this.w.ptt_capture_ready();
    for (let i = 0; i < n; i++) {
      const bytes = new Uint8Array(this.w.memory.buffer, this.w.ptt_capture_packet(i), this.w.ptt_capture_packet_size(i));
      const copy = bytes.slice().buffer;
      this.port.postMessage({ type: 'packet', data: copy }, [copy]);
    }
    this.w.ptt_capture_clear();
  }

  process(inputs) {
    if (!this.rendering) {
      this.rendering = true;
      this.port.postMessage({ type: 'rendering' });
    }
    const channel = inputs[0]?.[0];
    if (channel) {
      this.input.set(channel);
      // currentTime is the context time of this quantum's first sample.
      this.w.ptt_capture_push(channel.length, currentTime * 1e6 + this.clockOffsetUs);
      this.flush();
    }
    this.gapMs = Math.min(this.gapMs, Date.now() - currentTime * 1000);
    if (currentTime - this.gapSince >= 1) {
      this.port.postMessage({ type: 'render-clock', gapMs: this.gapMs });
      this.gapMs = Infinity;
      this.gapSince = currentTime;
    }
    if (currentTime - this.lastReport >= 0.05) {
      this.lastReport = currentTime;
      this.port.postMessage({
        type: 'meter',
        level: this.w.ptt_capture_level(),
        speech: this.w.ptt_capture_speech() === 1,
        silenceMs: this.w.ptt_capture_silence_ms(),
      });
    }
    return true;
  }
}

registerProcessor('ptt-capture', CaptureProcessor);
