// The control protocol for the page, through the C++ implementation in the wasm module: messages
// are encoded and validated there (shared/src/protocol.cpp); this only moves strings in and out.
import { instantiate } from './ptt-wasm.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Protocol {
  constructor(module) {
    this.w = instantiate(module);
    this.size = this.w.ptt_text_buffer_size();
  }

  #buffer() { return new Uint8Array(this.w.memory.buffer, this.w.ptt_text_buffer(), this.size); }

  #put(...parts) {
    const buf = this.#buffer();
    const lengths = [];
    let offset = 0;
    for (const part of parts) {
      const { written } = encoder.encodeInto(part, buf.subarray(offset, this.size - 1));
      lengths.push(written);
      offset += written;
    }
    return lengths;
  }

  #take(len) {
    if (len < 0) throw new ProtocolError(this.errorName(-len));
    return decoder.decode(this.#buffer().slice(0, len));
  }

  errorName(code) {
    return decoder.decode(this.#buffer().slice(0, this.w.ptt_error_name(code)));
  }

  /** The name as the server will see it, or null if it breaks the name rules. */
  normaliseName(name) {
    const [len] = this.#put(name);
    const out = this.w.ptt_normalise_name(len);
    return out < 0 ? null : this.#take(out);
  }

  join(name, room = '') { return this.#take(this.w.ptt_encode_join(...this.#put(name, room))); }
  floorRequest() { return this.#take(this.w.ptt_encode_floor_request()); }
  floorRelease(talk) { return this.#take(this.w.ptt_encode_floor_release(talk)); }
  ping(t0) { return this.#take(this.w.ptt_encode_ping(t0)); }
  pong(t0, t1, t2) { return this.#take(this.w.ptt_encode_pong(t0, t1, t2)); }

  /** Validates a server message; returns it as an object, or throws ProtocolError. */
  decode(text) {
    const [len] = this.#put(text);
    if (encoder.encode(text).length !== len) throw new ProtocolError('too_large');
    return JSON.parse(this.#take(this.w.ptt_decode(len)));
  }
}

export class ProtocolError extends Error {
  constructor(code) {
    super(`protocol error: ${code}`);
    this.code = code;
  }
}

/** Microseconds on the clock this page's pings and capture times use. */
export function nowUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
