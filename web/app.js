// The student page: thin glue between the microphone, the AudioWorklet (C++ in wasm), the
// WebSocket and the UI. The wire format lives in the wasm module (protocol.js calls into it).
import { Protocol, nowUs } from './protocol.js';

const params = new URLSearchParams(location.search);
const SILENCE_HINT_MS = 4000;
const SILENCE_RELEASE_MS = 1000 * Number(params.get('silence') ?? 15);  // auto-release after this much silence
const AGC_MAX_GAIN_DB = 18;  // bounded: the professor's speakers are in the same room

const $ = (id) => document.getElementById(id);
const ui = {
  app: $('app'), floor: $('floor'), join: $('join'), name: $('name'), roomRow: $('room-row'), room: $('room'),
  joinError: $('join-error'), panel: $('talk-panel'), talk: $('talk'), label: $('talk-label'), meter: $('meter-bar'),
  elapsed: $('elapsed'), status: $('status'), hint: $('hint'), me: $('me'), rename: $('rename'), error: $('error'),
};

const LABELS = {
  connecting: 'Connecting…', ready: 'Hold to talk', requesting: 'Asking…', live: 'Live: release to stop',
  busy: 'Busy', queued: 'Waiting…', revoked: 'Stopped', unreachable: 'Offline',
};

let protocol;          // Protocol over the wasm module
let wasmModule;        // compiled once, shared with the worklet
let audio;             // { ctx, node }
let ws;
let state = 'loading';
let myName = localStorage.getItem('ptt.name') ?? '';
let roomCode = params.get('room') ?? localStorage.getItem('ptt.room') ?? '';
let pressed = false;
let talkId = 0;
let liveSince = 0;
let floorState = null;
let reconnectDelay = 1000;
let reconnectTimer;
let tickTimer;

function setState(next, status = '') {
  state = next;
  ui.app.dataset.state = next;
  ui.label.textContent = LABELS[next] ?? '';
  ui.status.textContent = status;
  ui.talk.disabled = next === 'connecting' || next === 'unreachable';
  ui.talk.setAttribute('aria-pressed', String(next === 'live'));
  if (next !== 'live') {
    ui.elapsed.textContent = '';
    ui.meter.style.width = '0';
  }
}

function fatal(message) {
  ui.join.hidden = true;
  ui.panel.hidden = true;
  ui.error.hidden = false;
  ui.error.textContent = message;
  ui.app.dataset.state = 'error';
  ui.floor.textContent = '';
}

function showFloor() {
  if (!floorState) return;
  ui.floor.textContent = floorState.taken
    ? (floorState.holder_id === myId ? 'You are speaking' : `${floorState.holder} is speaking`)
    : 'The floor is free';
}
let myId = 0;

// ---- microphone and worklet ---------------------------------------------------------------------

async function startAudio() {
  if (audio) return;
  const stream = await navigator.mediaDevices.getUserMedia({
    // The browser's own processing is off: ours (speexdsp, bounded gain) runs in the worklet.
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
  });
  const ctx = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
  if (ctx.state === 'suspended') await ctx.resume();
  await ctx.audioWorklet.addModule('capture-worklet.js');
  const node = new AudioWorkletNode(ctx, 'ptt-capture', {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
    processorOptions: { module: wasmModule, agcMaxGainDb: AGC_MAX_GAIN_DB, prerollMs: 1000, clockOffsetUs: clockOffset(ctx) },
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
  await rendering;
  node.port.onmessage = ({ data }) => onWorklet(data);
  ctx.createMediaStreamSource(stream).connect(node);
  audio = { ctx, node, stream };
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

function onWorklet(msg) {
  if (msg.type === 'error') {
    console.error('capture worklet:', msg.message);
  } else if (msg.type === 'render-clock') {
    if (!audio) return;
    // The worklet's wall clock is Date.now(); this page's is nowUs(): read back to back to convert.
    const offsetUs = (msg.gapMs - Date.now()) * 1000 + nowUs();
    audio.node.port.postMessage({ type: 'clock', offsetUs });
  } else if (msg.type === 'packet') {
    if (ws?.readyState === WebSocket.OPEN && state === 'live') ws.send(msg.data);
  } else if (msg.type === 'meter' && state === 'live') {
    ui.meter.style.width = `${Math.round(msg.level * 100)}%`;
    if (msg.silenceMs >= SILENCE_RELEASE_MS) {
      release();
      ui.status.textContent = `Released after ${SILENCE_RELEASE_MS / 1000} s of silence.`;
    } else if (msg.silenceMs >= SILENCE_HINT_MS) {
      ui.hint.textContent = "We can't hear you: speak up, or let go to give the floor back.";
      ui.hint.classList.add('warn');
    } else {
      resetHint();
    }
  }
}

function resetHint() {
  ui.hint.textContent = 'Hold the button (or the Space key) while you speak.';
  ui.hint.classList.remove('warn');
}

function tone() {
  // The talk-permit tone radio users expect: two short rising beeps.
  const { ctx } = audio;
  const t = ctx.currentTime;
  [[880, 0], [1320, 0.09]].forEach(([freq, at]) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.15, t + at);
    gain.gain.exponentialRampToValueAtTime(0.001, t + at + 0.08);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t + at);
    osc.stop(t + at + 0.085);
  });
}

// ---- WebSocket ---------------------------------------------------------------------------------

function connect() {
  clearTimeout(reconnectTimer);
  setState('connecting', '');
  ui.floor.textContent = 'Connecting…';
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => ws.send(protocol.join(myName, roomCode));
  ws.onmessage = (e) => {
    if (typeof e.data !== 'string') return;
    let msg;
    try {
      msg = protocol.decode(e.data);
    } catch (err) {
      console.warn('ignored an invalid server message', err);
      return;
    }
    onMessage(msg);
  };
  ws.onclose = (e) => onClose(e);
}

function onClose(e) {
  stopTalking();
  if (e.code === 1008 || state === 'rejected') return;  // bad name or room code: the form explains
  const seconds = Math.round(reconnectDelay / 1000);
  setState('unreachable', `Can't reach the server. Retrying in ${seconds} s…`);
  ui.floor.textContent = 'Offline';
  reconnectTimer = setTimeout(connect, reconnectDelay);
  reconnectDelay = Math.min(reconnectDelay * 2, 15000);
}

function send(text) {
  if (ws?.readyState === WebSocket.OPEN) ws.send(text);
}

function onMessage(m) {
  switch (m.type) {
    case 'welcome':
      reconnectDelay = 1000;
      myId = m.id;
      ui.me.textContent = m.name;
      floorState = m.floor;
      showFloor();
      setState('ready');
      break;
    case 'floor_state':
      floorState = m;
      showFloor();
      if (!m.taken && (state === 'busy' || state === 'revoked') && !pressed) setState('ready');
      if (!m.taken && state === 'busy' && pressed) ui.status.textContent = 'The floor is free now: let go and press again.';
      break;
    case 'floor_granted':
      if (!pressed) {  // let go before the answer came: give the floor straight back
        send(protocol.floorRelease(m.talk));
        break;
      }
      talkId = m.talk;
      audio.node.port.postMessage({ type: 'grant', talk: m.talk });
      liveSince = performance.now();
      setState('live', "You're live");
      tone();
      tickTimer = setInterval(tick, 200);
      break;
    case 'floor_denied':
      audio.node.port.postMessage({ type: 'release' });
      if (!pressed) break;
      if (m.reason === 'queued') setState('queued', `${m.holder} is speaking. You are number ${m.position} in line.`);
      else if (m.reason === 'busy') setState('busy', `${m.holder} is speaking`);
      else setState('busy', m.reason === 'rate_limited' ? 'Too many presses: wait a moment.' : 'Not allowed right now.');
      break;
    case 'floor_revoked': {
      stopTalking();
      const why = { max_time: 'Time is up for this talk.', unresponsive: 'Your connection stalled.',
                    silence: 'Released after a long silence.', admin: 'The professor took the floor back.' }[m.reason];
      setState(pressed ? 'revoked' : 'ready', why ?? 'The floor was taken back.');
      break;
    }
    case 'error':
      if (m.code === 'bad_room_code' || m.code === 'bad_name' || (m.code === 'rate_limited' && state === 'connecting')) {
        // rate_limited before the welcome: too many wrong room codes from this network.
        state = 'rejected';
        showJoinForm(m.code === 'bad_room_code' ? (roomCode ? 'That room code is wrong.' : 'This room needs a code.') : m.message);
        if (m.code === 'bad_room_code') ui.roomRow.hidden = false;
      } else if (m.code === 'server_full') {
        setState('unreachable', 'The room is full. Retrying…');
      } else {
        console.warn('server error', m.code, m.message);
      }
      break;
    case 'ping': {
      const t = nowUs();
      send(protocol.pong(m.t0, t, nowUs()));
      break;
    }
  }
}

function tick() {
  if (state !== 'live') return;
  const s = Math.floor((performance.now() - liveSince) / 1000);
  ui.elapsed.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// ---- pressing ------------------------------------------------------------------------------------

function press() {
  if (pressed) return;
  pressed = true;
  if (state !== 'ready' && state !== 'revoked' && state !== 'busy') return;
  audio.node.port.postMessage({ type: 'press' });  // pre-roll: nothing said after the press is lost
  send(protocol.floorRequest());
  setState('requesting', 'Asking for the floor…');
}

function stopTalking() {
  clearInterval(tickTimer);
  audio?.node.port.postMessage({ type: 'release' });
  resetHint();
}

function release() {
  if (!pressed) return;
  pressed = false;
  if (state === 'live') {
    stopTalking();
    send(protocol.floorRelease(talkId));
    talkId = 0;
    setState('ready');
  } else if (state === 'requesting' || state === 'queued') {
    stopTalking();
    send(protocol.floorRelease(0));
    setState('ready');
  } else if (state === 'busy' || state === 'revoked') {
    setState('ready');
  }
  showFloor();
}

function bindPress() {
  ui.talk.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    ui.talk.setPointerCapture(e.pointerId);
    e.preventDefault();
    press();
  });
  for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) ui.talk.addEventListener(type, release);
  ui.talk.addEventListener('contextmenu', (e) => e.preventDefault());  // no long-press menu on phones
  document.addEventListener('keydown', (e) => {
    if (e.code !== 'Space' || e.repeat || e.target instanceof HTMLInputElement || ui.panel.hidden) return;
    e.preventDefault();
    press();
  });
  document.addEventListener('keyup', (e) => {
    if (e.code !== 'Space' || ui.panel.hidden) return;
    e.preventDefault();
    release();
  });
  window.addEventListener('blur', release);  // a key-up we will never see
}

// ---- joining -------------------------------------------------------------------------------------

function showJoinForm(message = '') {
  ui.panel.hidden = true;
  ui.join.hidden = false;
  ui.name.value = myName;
  ui.room.value = roomCode;
  ui.joinError.textContent = message;
  ui.floor.textContent = 'Type your name to join';
  ui.app.dataset.state = 'join';
  ui.name.focus();
}

async function onJoin(e) {
  e.preventDefault();
  const name = protocol.normaliseName(ui.name.value);
  if (!name) {
    ui.joinError.textContent = 'Names are 1 to 32 characters, without control characters.';
    return;
  }
  myName = name;
  roomCode = ui.room.value.trim();
  localStorage.setItem('ptt.name', myName);
  if (roomCode) localStorage.setItem('ptt.room', roomCode);
  try {
    await startAudio();  // the Join click is the gesture browsers want before audio starts
  } catch (err) {
    fatal(err?.name === 'NotAllowedError'
      ? 'Microphone blocked. Allow the microphone for this site in your browser settings, then reload the page.'
      : `The microphone could not be opened (${err?.message ?? err}). Check that one is connected, then reload.`);
    return;
  }
  ui.join.hidden = true;
  ui.panel.hidden = false;
  ui.me.textContent = myName;
  ws?.close();
  connect();
}

async function main() {
  bindPress();
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    fatal(`This page must be opened over a secure connection to use the microphone. Open https://${location.host}${location.pathname} instead (accept the certificate warning once).`);
    return;
  }
  try {
    wasmModule = await WebAssembly.compileStreaming(fetch('/wasm/ptt_client.wasm'));
    protocol = new Protocol(wasmModule);
  } catch (err) {
    fatal(`The talk client could not be loaded (${err.message}). Reload the page.`);
    return;
  }
  ui.join.addEventListener('submit', onJoin);
  ui.rename.addEventListener('click', () => {
    ws?.close(1000);
    state = 'rejected';
    showJoinForm();
  });
  if (roomCode) ui.roomRow.hidden = false;
  showJoinForm();
}

main();
