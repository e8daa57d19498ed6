// The AudioWorklet processor: hands each 128-sample quantum to the C++ capture pipeline in the
// capture module (noise suppression, gain, voice activity, Opus, framing) and passes the framed
// packets and the meter through a shared ring (capture-ring.js): packets to the worker that owns
// the socket (socket-worker.js), the meter to the page. process() allocates nothing: each is told
// there is something to read with a bare number.
import { instantiate } from './ptt-wasm.js';
import { CaptureRing, Doorbell } from './capture-ring.js';

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { module, agcMaxGainDb, prerollMs, packetMs, clockOffsetUs, shared } = options.processorOptions;
    try {
      this.w = instantiate(module);
      if (!this.w.ptt_capture_init(agcMaxGainDb, prerollMs, packetMs)) throw new Error('capture pipeline failed to start');
    } catch (err) {
      this.port.postMessage({ type: 'error', message: String(err) });
      throw err;
    }
    this.input = new Float32Array(this.w.memory.buffer, this.w.ptt_capture_input(), 1024);
    this.heap = new Uint8Array(this.w.memory.buffer);  // the module's memory never grows
    this.ring = new CaptureRing(shared);
    this.clockOffsetUs = clockOffsetUs; // page clock (us) minus currentTime (us)
    this.lastMeter = 0;
    this.shownLevel = -1;
    this.shownSilence = -1;
    // The render clock against the wall clock: the smallest Date.now() - currentTime over a second
    // is when a quantum's samples were due here (one render callback runs several quanta at once).
    this.gapMs = Infinity;
    this.gapSince = 0;
    this.packets = this.port;  // until the page hands over the socket worker's port
    this.port.onmessage = ({ data, ports }) => {
      switch (data.command) {
        case 'packets-port': this.packets = ports[0]; break;
        case 'press': this.w.ptt_capture_press(); break;
        case 'grant': this.w.ptt_capture_grant(data.talk); this.flush(); break;
        case 'release': this.w.ptt_capture_release(); break;
        case 'hold_gain': this.w.ptt_capture_hold_gain(); break;
        case 'clock': this.clockOffsetUs = data.offsetUs; break;
      }
    };
  }

  flush() {
    const n = this.w.ptt_capture_ready();
    if (n === 0) return;
    for (let i = 0; i < n; i++) this.ring.write(this.heap, this.w.ptt_capture_packet(i), this.w.ptt_capture_packet_size(i));
    this.w.ptt_capture_clear();
    this.packets.postMessage(Doorbell.packets);
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
      this.ring.values[2] = this.gapMs;
      this.port.postMessage(Doorbell.clock);
      this.gapMs = Infinity;
      this.gapSince = currentTime;
    }
    // The meter, at most every 50 ms and only when what it shows moved.
    if (currentTime - this.lastMeter >= 0.05) {
      this.lastMeter = currentTime;
      const level = Math.round(this.w.ptt_capture_level() * 100);
      const silence = Math.floor(this.w.ptt_capture_silence_ms() / 100);
      if (level !== this.shownLevel || silence !== this.shownSilence) {
        this.shownLevel = level;
        this.shownSilence = silence;
        this.ring.values[0] = level / 100;
        this.ring.values[1] = silence * 100;
        this.port.postMessage(Doorbell.meter);
      }
    }
    return true;
  }
}

registerProcessor('ptt-capture', CaptureProcessor);
