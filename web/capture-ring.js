// The capture worklet's packets and meter, handed to the page through one SharedArrayBuffer: the
// worklet copies each packet into a slot and moves the write index; the page reads slots up to it.
// Nothing is allocated on the audio thread (no message object per packet or per quantum); the
// worklet posts a bare number (a doorbell) when there is something to read.
//
// Layout: Int32 [0] packets written, [1] packets read, [2] packets dropped (ring full);
// Float64 at byte 16: [0] meter level 0..1, [1] ms without speech, [2] render-clock gap (ms);
// from byte 64: SLOTS slots of a 2-byte length and up to 1295 bytes (one audio frame).
export const SLOTS = 128;
const SLOT = 1300;
const RING = 64;
export const BYTES = RING + SLOTS * SLOT;
export const Doorbell = { packets: 1, clock: 2, meter: 3 };

export class CaptureRing {
  constructor(shared) {
    this.head = new Int32Array(shared, 0, 4);
    this.values = new Float64Array(shared, 16, 3);
    this.bytes = new Uint8Array(shared);
  }

  // Worklet: copies `size` bytes at `ptr` of `heap` into the next slot; false if the page has
  // fallen SLOTS packets behind (the packet is counted as dropped).
  write(heap, ptr, size) {
    const w = Atomics.load(this.head, 0);
    if (w - Atomics.load(this.head, 1) >= SLOTS || size > SLOT - 2) {
      Atomics.add(this.head, 2, 1);
      return false;
    }
    const b = this.bytes;
    let at = RING + (w % SLOTS) * SLOT;
    b[at] = size & 0xff;
    b[at + 1] = size >> 8;
    at += 2;
    for (let k = 0; k < size; k++) b[at + k] = heap[ptr + k];
    Atomics.store(this.head, 0, w + 1);
    return true;
  }

  // Page: calls take(bytes) with a copy of each unread packet, oldest first.
  read(take) {
    const w = Atomics.load(this.head, 0);
    let r = Atomics.load(this.head, 1);
    for (; r < w; r++) {
      const at = RING + (r % SLOTS) * SLOT;
      const size = this.bytes[at] | (this.bytes[at + 1] << 8);
      take(this.bytes.slice(at + 2, at + 2 + size));  // a copy: a WebSocket refuses shared memory
    }
    Atomics.store(this.head, 1, r);
  }

  get dropped() { return Atomics.load(this.head, 2); }
  get level() { return this.values[0]; }
  get silenceMs() { return this.values[1]; }
  get gapMs() { return this.values[2]; }
}
