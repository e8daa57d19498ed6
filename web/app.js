// The student page: thin glue between the microphone, the capture worklet, the WebSocket and the
// UI. The floor rules live in the C++ session (session.js over the page's wasm module): this file
// feeds it the button, the socket and the server's messages, and applies what it returns. The
// socket itself lives in a Worker (socket-worker.js), which also takes the worklet's packets
// straight to it: audio leaves on time however busy this thread is.
import { Session, nowUs } from './session.js';
import { CaptureRing, BYTES, Doorbell } from './capture-ring.js';

const AGC_MAX_GAIN_DB = 18;  // bounded: the professor's speakers are in the same room
// What the capture holds between the press and the grant (a queued student's newest 0.8 s). The
// server admits a talk's audio up to 1 s ahead of its clock (docs/PROTOCOL.md section 2): a full
// second of pre-roll would put every later packet at that edge.
const PREROLL_MS = 800;
// Opus packets: 20 ms, or 10 ms with ?packet=10 (the server plays both; 10 ms ones are complete
// 10 ms sooner, for twice the packets and their headers on the wire).
const params = new URLSearchParams(location.search);
const PACKET_MS = params.get('packet') === '10' ? 10 : 20;

const $ = (id) => document.getElementById(id);
const ui = {
  app: $('app'), floor: $('floor'), join: $('join'), name: $('name'), roomRow: $('room-row'), room: $('room'),
  joinError: $('join-error'), panel: $('talk-panel'), talk: $('talk'), label: $('talk-label'), meter: $('meter-bar'),
  elapsed: $('elapsed'), status: $('status'), hint: $('hint'), me: $('me'), rename: $('rename'), error: $('error'),
  retry: $('retry'), tapMode: $('tap-mode'),
};

const LABELS = {
  connecting: 'Connecting…', ready: 'Hold to talk', requesting: 'Asking…', live: 'Live: release to stop',
  busy: 'Busy', queued: 'Waiting…', revoked: 'Stopped', unreachable: 'Offline', your_turn: 'Your turn: hold to talk',
};
const HINTS = {
  queued: 'You can let go: your hand stays up until your turn.',
  busy: 'Keep holding to get the floor as soon as it is free.',
};
const RAISED_HINT = 'Press again to lower your hand.';
// Tap to talk, for students who cannot hold a press: a tap starts, the next one stops.
const TAP_LABELS = { ready: 'Tap to talk', live: 'Live: tap to stop', your_turn: 'Your turn: tap to talk' };
const TAP_HINT = 'Tap the button to start talking, and again to stop.';
let tapToTalk = localStorage.getItem('ptt.tapToTalk') === '1';
let latched = false;  // tap to talk: pressed by a tap, until the next
const REVOKED = {
  max_time: 'Time is up for this talk.', unresponsive: 'Your connection stalled.',
  silence: 'Released after a long silence.', admin: 'The professor took the floor back.',
  turn_missed: 'Your turn passed: the floor went on because you did not press in time.',
};
const REJECTED = {
  bad_name: 'Type a name of 1 to 32 visible characters (letters, digits, signs), on one line.',
  guess_limit: 'Too many wrong room codes from this network: wait a minute, then try again.',
  removed: 'The professor removed you from the room. You can join again in a minute.',
};
// A phone has no Space key to mention.
const HINT = matchMedia('(hover: none) and (pointer: coarse)').matches
  ? 'Hold the button while you speak.' : 'Hold the button (or the Space key) while you speak.';

let session;           // the C++ session (page module)
let captureModule;     // compiled once, instantiated in the worklet
let audio;             // { ctx, node, ring }, once the microphone runs
let audioCtx;          // made in the Join click
let workletLoaded;     // its worklet's code, loading since then
let audioStarting;     // the microphone's start, asked for once the server has welcomed the student
const socket = new Worker('socket-worker.js', { type: 'module' });
let socketId = 0;      // the current socket's number (0: none); the worker's news of others is old
let socketWanted = false;  // a socket is opening or open (set on connect, cleared when it closes or we leave)
let view;              // the session's view, as last applied
let joined = false;    // the talk panel is up (not the join form or an error)
let myName = localStorage.getItem('ptt.name') ?? '';
let roomCode = params.get('room') ?? localStorage.getItem('ptt.room') ?? '';
// Retries after a lost connection: soon, then every 1.5 s at most, so a restarted server has its
// students back within 2 s; each wait is spread by up to 0.3 s so a room does not retry in step.
const RETRY_FIRST_MS = 500, RETRY_MAX_MS = 1500;
let reconnectDelay = RETRY_FIRST_MS;
let reconnectAt = 0;
let reconnectTimer;
let tickTimer;
let wakeTimer;
let countdownTimer;

// ---- applying the session's outputs ------------------------------------------------------------

function apply(fx) {
  for (const text of fx.send) if (socketWanted) socket.postMessage({ type: 'send', id: socketId, text });
  for (const c of fx.capture) audio?.node.port.postMessage(c);
  if (fx.tone) tone();
  if (fx.view) render(fx.view);
  clearTimeout(wakeTimer);
  if (fx.wakeAt) wakeTimer = setTimeout(() => apply(session.tick()), Math.max(0, fx.wakeAt - performance.now()));
}

function render(v) {
  const previous = view?.state;
  view = v;
  if (v.state === 'rejected') {
    const message = v.reason === 'bad_room_code' ? (roomCode ? 'That room code is wrong.' : 'This room needs a code.')
      : REJECTED[v.reason] ?? 'The server refused to join.';
    if (v.reason === 'bad_room_code') ui.roomRow.hidden = false;
    showJoinForm(message);
    if (v.reason === 'bad_room_code') {  // the field to fix, ready to type in
      ui.room.focus();
      ui.room.select();
    }
    return;
  }
  if (!joined) return;
  // Welcomed, with the microphone still starting (the browser may be asking the student for it).
  const starting = !audio && v.state === 'ready';
  ui.app.dataset.state = starting ? 'starting' : v.state;
  ui.label.textContent = starting ? 'Starting the microphone…' : v.reason === 'rate_limited' ? 'Wait…'
    : v.handRaised ? 'Hand raised' : (tapToTalk && TAP_LABELS[v.state]) || LABELS[v.state] || '';
  ui.status.textContent = starting ? 'Allow the microphone if your browser asks.' : statusText(v);
  ui.talk.disabled = starting || v.state === 'connecting' || v.state === 'unreachable';
  ui.retry.hidden = v.state !== 'unreachable';
  if (v.myName) ui.me.textContent = v.myName;
  ui.floor.textContent = v.state === 'unreachable' ? 'Offline' : v.state === 'connecting' ? 'Connecting…'
    : !v.floor.taken ? 'The floor is free'
    : v.state === 'your_turn' ? 'The floor is yours' : v.floor.mine ? 'You are speaking' : `${v.floor.holder} is speaking`;
  ui.meter.style.width = `${Math.round(v.level * 100)}%`;
  const tapped = performance.now() < tapHintUntil && v.state !== 'live';
  ui.hint.textContent = v.feedbackHint ? 'You are close to the loudspeaker: step back or lower your phone.'
    : v.silenceHint ? "We can't hear you: speak up, or let go to give the floor back."
    : tapped ? 'Hold the button while you speak: a quick tap does not give you the floor.'
    : v.handRaised ? RAISED_HINT : HINTS[v.state] ?? (tapToTalk ? TAP_HINT : HINT);
  ui.hint.classList.toggle('warn', v.feedbackHint || v.silenceHint || tapped);
  if (v.onAir && !tickTimer) {
    tickTimer = setInterval(tick, 200);
    tick();
  }
  if (!v.onAir) {
    endingWarned = false;
    clearInterval(tickTimer);
    tickTimer = undefined;
    ui.elapsed.textContent = '';
    ui.app.classList.remove('ending');
  }
  // While unreachable the retry countdown runs; while first in line, the professor's auto-approve.
  clearInterval(countdownTimer);
  if (v.state === 'your_turn' && previous !== 'your_turn') navigator.vibrate?.([200, 100, 200]);
  if (v.state === 'unreachable' || v.state === 'your_turn' || (v.state === 'queued' && v.grantAtMs))
    countdownTimer = setInterval(() => { ui.status.textContent = statusText(view); }, 250);
}

function statusText(v) {
  switch (v.state) {
    case 'requesting': return 'Asking for the floor…';
    case 'live': return endingWarned ? 'Less than 10 seconds left: finish your sentence.' : "You're live";
    case 'busy': return v.reason === 'rate_limited' ? 'Too many presses: keep holding, asking again in a moment.'
      : v.holder ? `${v.holder} is speaking` : 'Not now: the professor has not given you the floor.';
    // With no holder the line waits for the professor to pick (moderated mode).
    case 'queued': return v.grantAtMs
      ? `The floor is yours in ${Math.max(1, Math.ceil((v.grantAtMs - performance.now()) / 1000))} s${v.handRaised ? '' : ': keep holding'}.`
      : v.holder ? `${v.holder} is speaking. ${v.handRaised ? 'Your hand is up: you are' : 'You are'} number ${v.position} in line.`
      : `Waiting for the professor to give you the floor. You are number ${v.position} in line.`;
    case 'your_turn':
      return `Your turn! Hold the button to speak (${Math.max(1, Math.ceil((v.turnEndsAtMs - performance.now()) / 1000))} s).`;
    case 'revoked': case 'ready': return REVOKED[v.reason] ?? '';
    case 'unreachable': {
      const seconds = Math.max(1, Math.ceil((reconnectAt - performance.now()) / 1000));
      return v.reason === 'server_full' ? `The room is full. Retrying in ${seconds} s…`
        : `Can't reach the server. Retrying in ${seconds} s…`;
    }
    default: return '';
  }
}

const clock = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
const ENDING_MS = 10000;  // the last stretch of a talk: counted down, coloured, a tone and a buzz
let endingWarned = false;  // this talk's warning has been given

// While live: the talk's time against the limit; in its last 10 s a countdown in the button, a
// colour change, one spoken status line (the live region), a falling tone and a vibration.
function tick() {
  const elapsed = performance.now() - view.liveSinceMs;
  const left = view.maxTalkMs ? view.maxTalkMs - elapsed : Infinity;
  const ending = left <= ENDING_MS;
  ui.elapsed.textContent = ending ? `${Math.max(0, Math.ceil(left / 1000))} s left`
    : view.maxTalkMs ? `${clock(elapsed)} / ${clock(view.maxTalkMs)}` : clock(elapsed);
  ui.app.classList.toggle('ending', ending);
  if (ending && !endingWarned) {
    endingWarned = true;
    ui.status.textContent = statusText(view);
    warningTone();
    navigator.vibrate?.([120, 80, 120]);
  }
}

function fatal(message) {
  joined = false;
  ui.join.hidden = true;
  ui.panel.hidden = true;
  ui.error.hidden = false;
  ui.error.textContent = message;
  ui.app.dataset.state = 'error';
  ui.floor.textContent = '';
}

// ---- microphone and worklet ---------------------------------------------------------------------

// In the Join click: the audio context, made inside the gesture browsers want before audio starts,
// and the worklet's code loading while the page connects. The microphone waits for the welcome.
function prepareAudio() {
  if (audioCtx) return;
  // The graph runs on its output device's clock, and the worklet only sees the microphone as fast as
  // that clock renders. With 'interactive' (10.7 ms here) a browser frozen for 50 ms by a busy
  // laptop finds its output buffer run dry, loses that time for good, and the microphone's audio
  // queues behind it until the browser drops some (render clock 209 ms behind after 5 s of freezes
  // at 20 % duty); 25 ms buffers ride over the freeze and the graph renders its backlog at once (0
  // ms behind). The worklet then waits up to 16 ms longer for its input (docs/AUDIO.md).
  audioCtx = new AudioContext({ sampleRate: 48000, latencyHint: 0.025 });
  audioCtx.resume().catch(() => {});
  workletLoaded = audioCtx.audioWorklet.addModule('capture-worklet.js');
  workletLoaded.catch(() => {});  // reported when the microphone starts
}

// Once the server has welcomed the student: the microphone (the browser asks for it now, when the
// student is known to be in), the worklet, and the packets' path to the socket's worker.
function startAudio() {
  audioStarting ??= openMicrophone().then(() => { if (view) render(view); }, (err) => {
    audioStarting = undefined;
    leave();
    fatal(err?.name === 'NotAllowedError'
      ? 'Microphone blocked. Allow the microphone for this site in your browser settings, then reload the page.'
      : err?.name === 'AudioStartError'
      ? 'Your browser did not start its audio for this page. Check that the device has a working sound output (and that no other app holds it), then reload the page.'
      : err?.name === 'WorkletError' ? `The audio processor could not start (${err.message}). Reload the page.`
      : `The microphone could not be opened (${err?.message ?? err}). Check that one is connected, then reload.`);
  });
}

const AUDIO_START_MS = 5000;  // a context that runs does so within a few hundred ms

// `promise`, or an error named `name` once `ms` have passed without it settling.
function within(ms, promise, name) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`nothing after ${ms / 1000} s`), { name })), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function openMicrophone() {
  const stream = await navigator.mediaDevices.getUserMedia({
    // The browser's own processing is off: ours (speexdsp, bounded gain) runs in the worklet.
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
  });
  const ctx = audioCtx;
  // A browser that cannot reach its sound output (no sound server, a device another app holds)
  // leaves the context suspended without a word: say so rather than wait for ever.
  if (ctx.state !== 'running') await within(AUDIO_START_MS, ctx.resume(), 'AudioStartError');
  await within(AUDIO_START_MS, workletLoaded.catch((e) => {
    throw Object.assign(new Error(e?.message ?? String(e)), { name: 'WorkletError' });
  }), 'AudioStartError');
  const shared = new SharedArrayBuffer(BYTES);
  const node = new AudioWorkletNode(ctx, 'ptt-capture', {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
    processorOptions: { module: captureModule, agcMaxGainDb: AGC_MAX_GAIN_DB, prerollMs: PREROLL_MS, packetMs: PACKET_MS,
                        clockOffsetUs: clockOffset(ctx), shared },
  });
  const mute = ctx.createGain();  // the worklet must be pulled, but nothing is played back
  mute.gain.value = 0;
  node.connect(mute).connect(ctx.destination);
  const rendering = new Promise((resolve) => { node.port.onmessage = ({ data }) => { if (data.type === 'rendering') resolve(); }; });
  node.onprocessorerror = (e) => {
    console.error('capture worklet failed', e.message ?? e);
    fatal('The audio processor stopped working. Reload the page.');
  };
  // The microphone joins the graph only once the worklet renders: Chromium queues what it captures
  // until the render thread takes it, and a queue filled while the processor was starting (its
  // wasm instance is made on the render thread) stays as delay for the whole session.
  await within(AUDIO_START_MS, rendering, 'AudioStartError');
  audio = { ctx, node, stream, source: null, ring: new CaptureRing(shared) };
  node.port.onmessage = ({ data }) => onWorklet(data);
  // Packets go from the worklet to the socket's worker without passing through this thread.
  const packets = new MessageChannel();
  node.port.postMessage({ command: 'packets-port' }, [packets.port1]);
  socket.postMessage({ type: 'capture', shared }, [packets.port2]);
  joinMicrophone();
}

// Chromium keeps what the microphone captured and the graph has not yet taken as delay, for as long
// as the source node lives: a render thread starved once (the page starting beside other work, a
// busy phone) left one page 230 ms behind its microphone for the rest of the session. A new source
// node starts from an empty queue (30 ms measured right after), so each press joins the microphone
// afresh; what it drops was captured before the press.
function joinMicrophone() {
  audio.source?.disconnect();
  audio.source = audio.ctx.createMediaStreamSource(audio.stream);
  audio.source.connect(audio.node);
}

// Page clock (us) minus the audio clock (us): turns the worklet's currentTime into when the
// sample entered this page's audio graph. A first estimate until the worklet measures its render
// clock: getOutputTimestamp relates context time to when it is heard, baseLatency + outputLatency
// after it is processed.
function clockOffset(ctx) {
  const ts = ctx.getOutputTimestamp?.();
  if (ts && ts.performanceTime) {
    const aheadS = (ctx.baseLatency ?? 0) + (ctx.outputLatency ?? 0);
    return (performance.timeOrigin + ts.performanceTime) * 1000 - (ts.contextTime + aheadS) * 1e6;
  }
  return nowUs() - ctx.currentTime * 1e6;
}

function onWorklet(data) {
  const { ring } = audio;
  if (data === Doorbell.meter) {
    apply(session.meter(ring.level, ring.silenceMs));
  } else if (data === Doorbell.clock) {
    // The worklet's wall clock is Date.now(); this page's is nowUs(): read back to back to convert.
    const offsetUs = (ring.gapMs - Date.now()) * 1000 + nowUs();
    audio.node.port.postMessage({ command: 'clock', offsetUs });
  } else if (data?.type === 'error') {
    console.error('capture worklet:', data.message);
  }
}

// Short beeps: [frequency, start] pairs, each `length` s long.
function beeps(notes, length) {
  if (!audio) return;
  const { ctx } = audio;
  const t = ctx.currentTime;
  for (const [freq, at] of notes) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.15, t + at);
    gain.gain.exponentialRampToValueAtTime(0.001, t + at + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t + at);
    osc.stop(t + at + length + 0.005);
  }
}

// The talk-permit tone radio users expect: two short rising beeps.
const tone = () => beeps([[880, 0], [1320, 0.09]], 0.08);
// Time nearly up: two falling beeps.
const warningTone = () => beeps([[1320, 0], [880, 0.12]], 0.1);

// ---- WebSocket ---------------------------------------------------------------------------------

function connect() {
  clearTimeout(reconnectTimer);
  const { join, ...fx } = session.open(myName, roomCode);
  apply(fx);
  if (!join) return;
  socketId += 1;
  socketWanted = true;
  socket.postMessage({ type: 'open', id: socketId, join,
                       url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` });
}

socket.onmessage = ({ data }) => {
  if (data.id !== socketId || !socketWanted) return;  // an earlier socket's
  if (data.type === 'message') {
    const fx = session.receive(data.text);
    if (fx.invalid) console.warn('ignored an invalid server message', data.text.slice(0, 200));
    apply(fx);
    if (view?.state === 'ready') {  // welcomed: the next loss retries fast, and the microphone may start
      reconnectDelay = RETRY_FIRST_MS;
      startAudio();
    }
  } else if (data.type === 'closed') {
    socketWanted = false;
    const wait = reconnectDelay + Math.random() * 300;
    reconnectAt = performance.now() + wait;
    apply(session.closed());
    if (view?.state === 'rejected') return;  // the form explains; no retry
    reconnectTimer = setTimeout(connect, wait);
    reconnectDelay = Math.min(reconnectDelay * 2, RETRY_MAX_MS);
  }
};
socket.onerror = (e) => {
  console.error('socket worker failed', e.message ?? e);
  fatal('The page could not start its connection. Reload the page.');
};

// ---- pressing ------------------------------------------------------------------------------------

let held = false;  // the button or Space is down
let pressedAt = 0;
// A press let go this soon, before the floor came, was a tap: the student is told to hold.
const TAP_MS = 350;
let tapHintUntil = 0;
const press = () => {
  if (!held && audio) joinMicrophone();  // a second press while held changes nothing
  if (!held) pressedAt = performance.now();
  held = true;
  apply(session.press());
};
const release = () => {
  // (With a line a tap raises or lowers a hand, which is no mistake. A grant that came within the
  // tap changes nothing: the student let go before saying a word.)
  const wasTap = held && !tapToTalk && performance.now() - pressedAt < TAP_MS && !view?.queueMode;
  held = false;
  if (wasTap) {
    tapHintUntil = performance.now() + 4000;
    setTimeout(() => { if (view) render(view); }, 4000);
  }
  apply(session.release());
  if (wasTap && view) render(view);
};

// Tap to talk: a tap holds the press until the next tap. With a line a tap raises or lowers the
// hand as in hold mode, except on the student's turn, when it starts the talk.
function tap() {
  if (latched) {
    latched = false;
    release();
  } else if (view?.queueMode && view.state !== 'your_turn') {
    press();
    release();
  } else {
    latched = true;
    press();
  }
}

function bindPress() {
  ui.talk.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    ui.talk.setPointerCapture(e.pointerId);
    e.preventDefault();
    if (tapToTalk) tap();
    else press();
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture'])
    ui.talk.addEventListener(type, () => { if (!tapToTalk) release(); });
  ui.talk.addEventListener('contextmenu', (e) => e.preventDefault());  // no long-press menu on phones
  document.addEventListener('keydown', (e) => {
    // Space anywhere on the page; Enter too while the talk button has the focus (as for any button).
    const key = e.code === 'Space' || (e.key === 'Enter' && e.target === ui.talk);
    if (!key || e.repeat || e.target instanceof HTMLInputElement || ui.panel.hidden || !audio) return;
    e.preventDefault();
    if (tapToTalk) tap();
    else press();
  });
  document.addEventListener('keyup', (e) => {
    if (!(e.code === 'Space' || (e.key === 'Enter' && e.target === ui.talk)) || ui.panel.hidden) return;
    e.preventDefault();
    if (!tapToTalk) release();
  });
  window.addEventListener('blur', () => { if (!tapToTalk) release(); });  // a key-up we will never see
  ui.tapMode.checked = tapToTalk;
  ui.tapMode.addEventListener('change', () => {
    tapToTalk = ui.tapMode.checked;
    localStorage.setItem('ptt.tapToTalk', tapToTalk ? '1' : '0');
    if (latched || held) {  // switching mid-press lets go, whichever way it was held
      latched = false;
      release();
    }
    if (view) render(view);
  });
}

// ---- joining -------------------------------------------------------------------------------------

function leave() {
  socketWanted = false;
  clearTimeout(reconnectTimer);
  socket.postMessage({ type: 'close' });
  apply(session.closed());
}

function showJoinForm(message = '') {
  joined = false;
  ui.panel.hidden = true;
  ui.join.hidden = false;
  ui.name.value = myName;
  ui.room.value = roomCode;
  ui.joinError.textContent = message;
  ui.floor.textContent = 'Type your name to join';
  ui.app.dataset.state = 'join';
  (myName && !ui.roomRow.hidden && !roomCode ? ui.room : ui.name).focus();
}

async function onJoin(e) {
  e.preventDefault();
  const name = session.normaliseName(ui.name.value);
  if (!name) {
    ui.joinError.textContent = REJECTED.bad_name;
    return;
  }
  myName = name;
  roomCode = ui.room.value.trim();
  localStorage.setItem('ptt.name', myName);
  if (roomCode) localStorage.setItem('ptt.room', roomCode);
  prepareAudio();  // before any await: the Join click is the gesture browsers want before audio starts
  leave();
  ui.join.hidden = true;
  ui.panel.hidden = false;
  ui.me.textContent = myName;
  joined = true;
  reconnectDelay = RETRY_FIRST_MS;
  connect();
}

async function main() {
  bindPress();
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    fatal(`This page must be opened over a secure connection to use the microphone. Open https://${location.host}${location.pathname} instead (accept the certificate warning once).`);
    return;
  }
  // Live audio hands the worklet's packets over shared memory, which a browser gives only to an
  // isolated page; WebKitGTK gives it to none without JSC_useSharedArrayBuffer=1 (Safari does).
  if (!window.crossOriginIsolated) {
    fatal('This page was loaded without the isolation it needs for live audio. Reload it from the address the professor gave.');
    return;
  }
  if (typeof SharedArrayBuffer === 'undefined') {
    fatal('This browser does not give web pages the shared memory live audio needs. Use an up-to-date Chrome, Edge, Firefox or Safari.');
    return;
  }
  try {
    const [page, capture, room] = await Promise.all([
      WebAssembly.compileStreaming(fetch('/wasm/ptt_page.wasm')),
      WebAssembly.compileStreaming(fetch('/wasm/ptt_capture.wasm')),
      // Whether this room asks for a code, so the field shows before the first try (PROTOCOL.md 1).
      fetch('/room.json').then((r) => r.json()).catch(() => ({})),
    ]);
    if (room.code_required) ui.roomRow.hidden = false;
    session = new Session(page);
    captureModule = capture;
  } catch (err) {
    fatal(`The talk client could not be loaded (${err.message}). Reload the page.`);
    return;
  }
  ui.join.addEventListener('submit', onJoin);
  ui.retry.addEventListener('click', () => {
    if (view?.state === 'unreachable' && joined && !socketWanted) connect();
  });
  ui.rename.addEventListener('click', () => {
    leave();
    showJoinForm();
  });
  if (roomCode) ui.roomRow.hidden = false;
  showJoinForm();
}

main();
