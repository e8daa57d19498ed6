// The student's session for the page: the C++ session of shared/ (ptt/client_session.hpp) in the
// page's wasm module, which also encodes and checks every control message. The page feeds it what
// happens and applies what each call returns: messages to send, commands for the capture worklet,
// the view to show (when it changed) and whether to play the grant tone.
import { instantiate } from './ptt-wasm.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CAPTURE = ['press', 'grant', 'release', 'hold_gain'];

export class Session {
  constructor(module) {
    this.w = instantiate(module);
    this.size = this.w.ptt_text_buffer_size();
  }

  #buffer() { return new Uint8Array(this.w.memory.buffer, this.w.ptt_text_buffer(), this.size); }

  // Puts the strings one after another in the text buffer; their lengths, or null if they don't fit.
  #put(...parts) {
    const buf = this.#buffer();
    const lengths = [];
    let offset = 0;
    for (const part of parts) {
      const { read, written } = encoder.encodeInto(part, buf.subarray(offset, this.size - 1));
      if (read !== part.length) return null;
      lengths.push(written);
      offset += written;
    }
    return lengths;
  }

  #text(len) { return len < 0 ? null : decoder.decode(this.#buffer().slice(0, len)); }

  /** The name as the server will see it, or null if it breaks the name rules. */
  normaliseName(name) {
    const lengths = this.#put(name);
    return lengths ? this.#text(this.w.ptt_normalise_name(lengths[0])) : null;
  }

  /** The socket is opening: the `join` to send once it is open (null if refused), and effects. */
  open(name, room) {
    const lengths = this.#put(name, room) ?? this.#put('', '');
    return { join: this.#text(this.w.ptt_session_open(...lengths)), ...this.#take() };
  }
  closed() { this.w.ptt_session_closed(); return this.#take(); }
  press() { this.w.ptt_session_press(performance.now()); return this.#take(); }
  release() { this.w.ptt_session_release(performance.now()); return this.#take(); }
  meter(level, silenceMs) { this.w.ptt_session_meter(level, silenceMs, performance.now()); return this.#take(); }
  tick() { this.w.ptt_session_tick(performance.now()); return this.#take(); }
  /** One server text message; `invalid` is true (and nothing changed) if the C++ decoder refused it. */
  receive(text) {
    const lengths = this.#put(text);
    const ok = lengths && this.w.ptt_session_receive(lengths[0], performance.now(), nowUs());
    return { invalid: !ok, ...this.#take() };
  }

  #take() {
    const bits = this.w.ptt_session_take();
    const send = [];
    for (let i = 0; bits & 1 && i < this.w.ptt_outgoing_count(); i++) send.push(this.#text(this.w.ptt_outgoing(i)));
    const capture = [];
    for (let i = 0; bits & 2 && i < this.w.ptt_capture_count(); i++)
      capture.push({ command: CAPTURE[this.w.ptt_capture_command(i)], talk: this.w.ptt_capture_talk(i) });
    return { send, capture, view: bits & 4 ? this.#view() : null, tone: (bits & 8) !== 0, wakeAt: this.w.ptt_session_wake_at() };
  }

  #view() {
    const w = this.w;
    return {
      state: this.#text(w.ptt_view_state()),
      reason: this.#text(w.ptt_view_reason()),
      holder: this.#text(w.ptt_view_holder()),
      onAir: w.ptt_view_on_air() === 1,
      position: w.ptt_view_position(),
      grantAtMs: w.ptt_view_grant_at_ms(),
      handRaised: w.ptt_view_hand_raised() === 1,
      turnEndsAtMs: w.ptt_view_turn_ends_at_ms(),
      myName: this.#text(w.ptt_view_my_name()),
      floor: { taken: w.ptt_view_floor_taken() === 1, holder: this.#text(w.ptt_view_floor_holder()),
               mine: w.ptt_view_floor_mine() === 1, queue: w.ptt_view_queue_length() },
      queueMode: w.ptt_view_queue_mode() === 1,
      maxTalkMs: w.ptt_view_max_talk_ms(),
      liveSinceMs: w.ptt_view_live_since_ms(),
      level: w.ptt_view_level(),
      silenceHint: w.ptt_view_silence_hint() === 1,
      feedbackHint: w.ptt_view_feedback_hint() === 1,
    };
  }
}

/** Microseconds on the clock this page's pongs and capture times use. */
export function nowUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
