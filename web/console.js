// The professor's console: thin glue. The server computes the room's view and sends it over the
// console's own WebSocket whenever it changes; this page draws it and sends the professor's actions
// (docs/PROTOCOL.md section 8). Names are the students' own text: set with textContent only.
const $ = (id) => document.getElementById(id);
let ws = null;
let view = null;        // the newest `room` message
let receivedAt = 0;     // performance.now() when it came
let recordingsFor = ''; // the talks count and floor the recordings list was fetched for
let meter = null;       // the newest `meter` message (the live talk's level and loss)

function say(text) { $('status').textContent = text; }

function showLogin(message = '') {
  $('room').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  say('Log in with the admin token.');
  $('token').focus();
}

async function login(token) {
  const r = await fetch('/console/login', { method: 'POST', body: token, credentials: 'same-origin' });
  return r.status === 204;
}

function connect() {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/console/ws`);
  ws = socket;
  let opened = false;
  socket.onopen = () => {
    opened = true;
    $('login').hidden = true;
    $('room').hidden = false;
    $('logout').hidden = false;
    say('Live.');
  };
  socket.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === 'room') {
      view = m;
      receivedAt = performance.now();
      render();
    } else if (m.type === 'meter') {
      meter = m;
      renderMeter();
    } else if (m.type === 'error') {
      say(m.message);
    } else if (m.type === 'done' && !m.changed) {
      say(`Nothing to ${m.action}: the room changed meanwhile.`);
    }
  };
  socket.onclose = async () => {
    if (ws !== socket) return;  // logged out, or replaced
    ws = null;
    // Refused at the upgrade: not logged in (or the login is gone), or the server is down.
    const probe = await fetch('/admin/status', { credentials: 'same-origin' }).catch(() => null);
    if (probe?.status === 401) return showLogin(opened ? 'Logged out.' : '');
    say(opened ? 'Connection lost; reconnecting…' : "Can't reach the server; retrying…");
    setTimeout(connect, 1000);
  };
}

function act(message) {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function button(label, onClick, { danger = false, disabled = false } = {}) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.disabled = disabled;
  if (danger) b.className = 'danger';
  b.addEventListener('click', onClick);
  return b;
}

function render() {
  const v = view;
  const names = new Map(v.clients.map((c) => [c.id, c.name]));
  $('address').textContent = v.join_urls[0] ?? `${location.origin}/`;
  $('code').textContent = v.room_code;
  $('code-line').hidden = !v.room_code;
  for (const r of document.querySelectorAll('input[name="mode"]')) r.checked = r.value === v.mode;
  $('auto-approve-line').hidden = v.mode !== 'moderated';
  const auto = $('auto-approve');
  if (document.activeElement !== auto) {
    if (![...auto.options].some((o) => Number(o.value) === v.auto_approve_s)) auto.add(new Option(`${v.auto_approve_s} s`, v.auto_approve_s));
    auto.value = String(v.auto_approve_s);
  }
  $('holder').textContent = v.floor.taken ? `${v.floor.holder} is speaking` : 'Nobody is speaking.';
  $('revoke').disabled = !v.floor.taken;
  $('mute').checked = v.output.muted;
  if (document.activeElement !== $('volume')) $('volume').value = Math.round(v.output.volume * 100);
  $('queue-count').textContent = v.queue.length ? `(${v.queue.length})` : '';
  $('queue').replaceChildren(...v.queue.map((id) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = names.get(id) ?? `#${id}`;
    const countdown = document.createElement('span');
    countdown.className = 'countdown';
    countdown.dataset.client = id;
    li.append(name, countdown, button('Give the floor', () => act({ type: 'grant', client: id }), { disabled: v.floor.taken }),
      button('Take out of line', () => act({ type: 'dequeue', client: id })));
    return li;
  }));

  $('count').textContent = `(${v.clients.length})`;
  $('students').replaceChildren(...v.clients.map((c) => {
    const tr = document.createElement('tr');
    const cells = [c.name, c.state === 'queued' ? `in line, #${c.position}` : c.state, clock(c.connected_s * 1000),
      c.rtt_ms < 0 ? '–' : `${c.rtt_ms} ms`, c.last_talk ? `${c.last_talk.lost_pct} %` : '–'];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    tr.children[1].dataset.state = c.state;
    if (c.state === 'live') {  // the live talk's figures come with the meter messages
      tr.children[1].append(levelBar('row-level'));
      tr.children[4].className = 'row-loss';
    }
    const td = document.createElement('td');
    td.append(button('Remove', () => act({ type: 'remove', client: c.id }), { danger: true }));
    tr.append(td);
    tr.dataset.name = c.name;
    return tr;
  }));

  $('log').replaceChildren(...v.log.slice().reverse().map((e) => {
    const tr = document.createElement('tr');
    const cells = [new Date(e.time).toLocaleTimeString(), e.student, e.event, e.detail,
      e.duration_ms === undefined ? '' : `${(e.duration_ms / 1000).toFixed(1)} s`];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));

  renderTimer();
  renderMeter();

  const key = `${v.talks}:${v.floor.taken}`;
  if (key !== recordingsFor) {
    recordingsFor = key;
    loadRecordings();
  }
}

function levelBar(className) {
  const m = document.createElement('meter');
  m.className = className;
  m.min = -60;
  m.max = 0;
  m.low = -30;
  m.high = -6;
  m.optimum = -18;
  m.value = -60;
  m.title = 'Level at the speakers';
  return m;
}

// The live talk's level (dBFS, as the speakers play it before the volume) and its packets lost on
// the way or too late for their turn at the speakers; only for the talk now holding the floor.
function renderMeter() {
  const live = view?.floor.taken && meter && meter.talk === view.floor.talk ? meter : null;
  const level = live && live.level_db !== null ? Math.max(-60, live.level_db) : -60;
  for (const m of document.querySelectorAll('#live-level, .row-level')) m.value = level;
  const loss = live ? `${live.lost_pct} %` + (live.late_pct === undefined ? '' : `, late ${live.late_pct} %`) : '';
  const levelText = live?.level_db === null ? 'not measured (no speakers)'
    : live?.level_db <= -60 ? 'silent' : `${Math.round(live?.level_db)} dBFS`;
  // The speakers heard in the talker's microphone, and what the playback does against it.
  const protection = [
    live?.feedback_db === undefined ? null : `speakers in the microphone at ${live.feedback_db} dB`,
    live?.lowered_db === undefined ? null : `playback lowered ${-live.lowered_db} dB`,
    live?.notches ? `${live.notches} ringing tone${live.notches > 1 ? 's' : ''} notched out` : null,
    live?.echo_cancelled ? 'echo canceller on' : null,
  ].filter(Boolean);
  const feedback = protection.length ? ` · ${protection.join(', ')}` : '';
  $('live-stats').textContent = live ? `Level ${levelText} · lost ${loss}${feedback}` : '';
  $('live-level').hidden = !live;
  for (const td of document.querySelectorAll('.row-loss')) td.textContent = live ? loss : '–';
}

function renderTimer() {
  // The auto-approve countdown, counted on from the view's (the server grants when it ends).
  for (const el of document.querySelectorAll('#queue .countdown')) {
    const c = view?.countdown;
    el.textContent = c && c.client === Number(el.dataset.client)
      ? `gets the floor in ${Math.max(0, Math.ceil((c.ms - (performance.now() - receivedAt)) / 1000))} s` : '';
  }
  const t = $('timer');
  if (!view?.floor.taken) {
    t.textContent = '';
    t.classList.remove('ending');
    return;
  }
  const elapsed = view.floor.elapsed_ms + (performance.now() - receivedAt);
  const left = view.floor.max_talk_ms - elapsed;
  t.textContent = `${clock(elapsed)} of ${clock(view.floor.max_talk_ms)}` + (left <= 10000 ? ` · ${Math.ceil(Math.max(0, left) / 1000)} s left` : '');
  t.classList.toggle('ending', left <= 10000);
}

async function loadRecordings() {
  const r = await fetch('/admin/recordings', { credentials: 'same-origin' }).catch(() => null);
  if (!r?.ok) return;
  const { recordings } = await r.json();
  $('recordings').replaceChildren(...recordings.filter((x) => x.finished).map((x) => {
    const li = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = `${x.file} (${(x.duration_ms / 1000).toFixed(1)} s)`;
    const audio = document.createElement('audio');
    audio.controls = true;
    audio.preload = 'none';
    audio.src = `/admin/recordings/${x.id}`;
    const a = document.createElement('a');
    a.href = audio.src;
    a.download = x.file;
    a.textContent = 'Download';
    li.append(label, audio, a);
    return li;
  }));
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (await login($('token').value)) {
    $('token').value = '';
    connect();
  } else {
    showLogin('That is not this server’s admin token.');
  }
});
$('logout').addEventListener('click', async () => {
  const socket = ws;
  ws = null;
  await fetch('/console/logout', { method: 'POST', credentials: 'same-origin' });
  socket?.close();
  showLogin('Logged out.');
});
$('revoke').addEventListener('click', () => act({ type: 'revoke' }));
$('auto-approve').addEventListener('change', () => act({ type: 'auto_approve', seconds: Number($('auto-approve').value) }));
$('mute').addEventListener('change', () => act({ type: 'output', muted: $('mute').checked }));
$('volume').addEventListener('change', () => act({ type: 'output', volume: Number($('volume').value) / 100 }));
$('show-join').addEventListener('click', () => {
  $('join-address').textContent = $('address').textContent;
  $('join-code').textContent = view?.room_code ? `Room code: ${view.room_code}` : '';
  $('join-code').hidden = !view?.room_code;
  $('join-view').hidden = false;
  $('join-view').requestFullscreen?.().catch(() => {});  // the overlay alone where the browser refuses
});
const hideJoin = () => {
  $('join-view').hidden = true;
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
};
$('join-view').addEventListener('click', hideJoin);
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') hideJoin(); });
for (const r of document.querySelectorAll('input[name="mode"]')) r.addEventListener('change', () => act({ type: 'mode', mode: r.value }));
setInterval(renderTimer, 250);

// The terminal's link carries the token after '#', which never leaves this browser except in the
// login request; it is taken out of the address bar at once.
// (A link opened again in the same tab changes only the fragment: hashchange, not a new page.)
async function openFromLink() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!fromLink) return false;
  history.replaceState(null, '', location.pathname);
  if (await login(fromLink)) {
    if (!ws) connect();
  } else {
    showLogin('The link’s token is not this server’s (an old link?).');
  }
  return true;
}
window.addEventListener('hashchange', openFromLink);
if (!await openFromLink()) connect();
