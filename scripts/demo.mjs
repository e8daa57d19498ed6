// The demonstration video (docs/demo/demo.webm), made from the real product: ptt-server playing into
// an isolated PulseAudio null sink, two students' pages and the professor's console in headless
// Chromium (fake microphones playing espeak-ng speech). Chromium's screencast gives each page's
// frames with their times; the sink, recorded from the start, is the audio track; Debian's ffmpeg
// lays them out with captions. Then the video's own audio track is checked against what the
// students said: each talk must be heard in it where the picture shows it, or this fails.
// Run by ./scripts/demo once the tree is built.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Harness, makeSpeech, readFloat32, root, sleepMs, waitState } from '../tests/browser/harness.mjs';
import { envelope, firstTalk, matchTalk } from '../tests/browser/speech_match.mjs';

const out = path.join(root, 'docs/demo/demo.webm');
const still = path.join(root, 'docs/demo/demo-still.png');
const work = path.join(root, 'build/demo');
const W = 1280, H = 720, FPS = 10;
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const MIN_S = 60, MAX_S = 120, MAX_BYTES = 10 * 1024 * 1024, HEARD = 0.85;

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(path.dirname(out), { recursive: true });

const h = new Harness();
const token = 'demo-token-0123456789abcdef';
const captions = [];  // { from, text } in seconds of the video
const talks = [];     // { who, speech, from, to }: a talk's press and release, in seconds of the video
let t0 = 0;
let stillAt = 0;
const now = () => (Date.now() - t0) / 1000;
const caption = (text) => { captions.push({ from: now(), text }); console.log(`${now().toFixed(1)} s: ${text}`); };

// Each page's frames as Chromium composes them (only when something changes), with their times.
const sources = [];
async function screencast(page, name, maxWidth, maxHeight) {
  const dir = path.join(work, name);
  mkdirSync(dir);
  const frames = [];
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Page.screencastFrame', ({ data, metadata, sessionId }) => {
    const file = path.join(dir, `${String(frames.length).padStart(5, '0')}.jpg`);
    writeFileSync(file, Buffer.from(data, 'base64'));
    frames.push({ file, t: metadata.timestamp * 1000 });
    cdp.send('Page.screencastFrameAck', { sessionId }).catch(() => {});
  });
  await cdp.send('Page.startScreencast', { format: 'jpeg', quality: 75, maxWidth, maxHeight, everyNthFrame: 1 });
  sources.push({ name, frames, cdp });
}

// The professor's terminal: the server's own output, as it prints it, and the commands typed
// (each where it was typed among the output). Left out: the QR code's rows, and the TLS handshakes
// the headless browsers fail against the self-signed certificate before they accept it (on a
// phone that line means a refused certificate; here it would only mislead). At first its head,
// with the address for the students; then its newest lines, as a terminal scrolls.
const typed = [];  // { at: the server's output length when typed, text }
let follow = false;
const kTerminalLines = 10;
function terminalText() {
  const log = h.server.log;
  let text = '$ ptt-server --recordings recordings --no-class-folders --admin-token ...\n', from = 0;
  for (const t of typed) {
    text += log.slice(from, t.at) + t.text;
    from = t.at;
  }
  text += log.slice(from);
  const lines = text.split('\n').filter((l) => !/[\u2580-\u259f]/.test(l) && !/TLS handshake with .* failed/.test(l));
  return (follow ? lines.slice(-kTerminalLines) : lines.slice(0, kTerminalLines)).join('\n');
}

async function press(page) {
  const box = await page.locator('#talk').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
}

async function joinSlowly(page, name) {
  await page.getByLabel('Your name').pressSequentially(name, { delay: 180 });
  await sleepMs(300);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('#app[data-state="ready"]').waitFor({ timeout: 15000 });
}

try {
  await h.startPulse();
  const url = await h.startServer(['--admin-token', token]);
  const ana = makeSpeech(h.dir, 'ana', 'could you explain again how the server decides who may speak when two of us press at the same moment');
  const ben = makeSpeech(h.dir, 'ben', 'I think the first press wins and everyone else is told who holds the floor until it is free');
  const consolePage = await h.browser({ wav: ana.wav });
  await consolePage.setViewportSize({ width: 1000, height: 680 });
  const terminal = await consolePage.context().newPage();
  await terminal.setViewportSize({ width: 680, height: 150 });
  await terminal.setContent(`<body style="margin:0;background:#111;color:#ddd">
    <pre id="t" style="margin:0;padding:6px 8px;font:11px/13px DejaVu Sans Mono,monospace;white-space:pre;overflow:hidden"></pre></body>`);
  const pageA = await h.browser({ wav: ana.wav, touch: true });
  const pageB = await h.browser({ wav: ben.wav, touch: true });
  await consolePage.goto(`${url}console.html#token=${token}`);
  await consolePage.locator('#room').waitFor({ state: 'visible', timeout: 10000 });
  await pageA.goto(url);
  await pageB.goto(url);

  // The sink's recording starts the video's clock.
  const sinkFile = path.join(work, 'sink.f32');
  h.startSinkRecording(sinkFile);
  t0 = Date.now();
  await screencast(consolePage, 'console', 1000, 680);
  await screencast(terminal, 'terminal', 680, 150);
  await screencast(pageA, 'ana', 390, 760);
  await screencast(pageB, 'ben', 390, 760);
  const updater = setInterval(() => {
    terminal.evaluate((text) => { document.getElementById('t').textContent = text; }, terminalText()).catch(() => {});
  }, 250);

  caption('The professor starts ptt-server on the laptop: it prints the address for the students');
  await sleepMs(5000);
  follow = true;
  caption('On the projector, the console shows the address and its QR code for the students to scan');
  await consolePage.getByRole('button', { name: 'Show the join screen (for the projector)' }).click();
  await consolePage.locator('#join-view').waitFor({ state: 'visible', timeout: 3000 });
  await sleepMs(5000);
  await consolePage.keyboard.press('Escape');
  caption('Students open the page on their phones and join by name: Ana, then Ben');
  await joinSlowly(pageA, 'Ana');
  await joinSlowly(pageB, 'Ben');
  await consolePage.locator('#students tr[data-name="Ben"]').waitFor({ timeout: 5000 });
  await sleepMs(3000);

  caption('Ana holds the button and speaks: the professor\'s speakers play her voice');
  let from = now();
  await press(pageA);
  await waitState(pageA, 'live', 5000);
  await sleepMs(2500);
  caption('Ben presses too: he is told at once that Ana is speaking');
  await press(pageB);
  await waitState(pageB, 'busy', 3000);
  stillAt = now() + 1;  // the README's still: Ana live, Ben told she is speaking
  await sleepMs(2500);
  await pageB.mouse.up();
  await sleepMs(2000);
  await pageA.mouse.up();
  talks.push({ who: 'Ana', speech: ana, from, to: now() });
  await waitState(pageA, 'ready', 3000);

  caption('Ana lets go and the floor is free: Ben holds the button and speaks');
  await sleepMs(1500);
  from = now();
  await press(pageB);
  await waitState(pageB, 'live', 3000);
  await sleepMs(6000);
  await pageB.mouse.up();
  talks.push({ who: 'Ben', speech: ben, from, to: now() });
  await waitState(pageB, 'ready', 3000);
  await sleepMs(1500);

  caption('The professor switches the floor to a queue in the console');
  await consolePage.locator('#modes input[value="queue"]').check();
  await sleepMs(3000);
  caption('Ana speaks again; Ben taps once to raise his hand and waits in line');
  await press(pageA);
  await waitState(pageA, 'live', 3000);
  await sleepMs(1500);
  await pageB.locator('#talk').click();
  await waitState(pageB, 'queued', 3000);
  await sleepMs(5000);
  caption('Ana lets go: the floor passes to Ben, whose phone tells him it is his turn');
  await pageA.mouse.up();
  await waitState(pageB, 'your_turn', 3000);
  await sleepMs(1500);
  await press(pageB);
  await waitState(pageB, 'live', 3000);
  await sleepMs(5000);
  caption('The professor takes the floor back from the console');
  await consolePage.locator('#revoke').click();
  await waitState(pageB, 'revoked', 3000);
  await sleepMs(2500);
  await pageB.mouse.up();
  await sleepMs(2000);

  caption('Moderated: Ana asks for the floor and waits until the professor gives it to her');
  await consolePage.locator('#modes input[value="moderated"]').check();
  await sleepMs(1500);
  await pageA.locator('#talk').click();
  await waitState(pageA, 'queued', 3000);
  const give = consolePage.locator('#queue li', { hasText: 'Ana' }).getByRole('button', { name: 'Give the floor' });
  await give.waitFor({ timeout: 3000 });
  await sleepMs(2500);
  await give.click();
  await waitState(pageA, 'your_turn', 3000);
  await sleepMs(1000);
  await press(pageA);
  await waitState(pageA, 'live', 3000);
  await sleepMs(4000);
  await pageA.mouse.up();
  await waitState(pageA, 'ready', 3000);
  await sleepMs(1500);

  caption('Every talk was recorded as <name>-<serial>.opus; the console lists them, and one is played');
  await consolePage.locator('#recordings li', { hasText: 'Ana-1.opus' }).scrollIntoViewIfNeeded();
  const files = execFileSync('ls', [h.recordings], { encoding: 'utf8' }).trim().split('\n').filter((f) => f.endsWith('.opus'));
  typed.push({ at: h.server.log.length, text: `$ ls recordings/\n${files.join('  ')}\n$ opusdec --quiet recordings/Ana-1.opus - | paplay\n` });
  await sleepMs(1500);
  // The console's player plays it too (this browser has no speakers: the sound is the terminal's).
  await consolePage.locator('#recordings li', { hasText: 'Ana-1.opus' }).locator('audio').evaluate((a) => a.play()).catch(() => {});
  const decoded = path.join(work, 'Ana-1.wav');
  execFileSync('opusdec', ['--quiet', path.join(h.recordings, 'Ana-1.opus'), decoded]);
  const played = now();
  await new Promise((resolve, reject) => {
    const p = spawn('paplay', ['-d', 'ptt_sink', decoded], { env: h.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`playing Ana-1.opus failed (${code}): ${err}`))));
  });
  talks.push({ who: 'Ana-1.opus, played back', speech: ana, from: played, to: now() });
  await sleepMs(3000);
  caption('');

  const end = now();
  clearInterval(updater);
  for (const s of sources) await s.cdp.send('Page.stopScreencast').catch(() => {});
  await h.stopSinkRecording();

  // Each source as a list of frames with their durations, from the video's start to its end.
  const concat = (s) => {
    const list = path.join(work, `${s.name}.txt`);
    const fr = s.frames.map((f) => ({ ...f, t: Math.max(0, (f.t - t0) / 1000) }));
    if (fr.length === 0) throw new Error(`no frames from the ${s.name} page`);
    fr[0].t = 0;
    let text = '';
    fr.forEach((f, i) => { text += `file '${f.file}'\nduration ${Math.max(0.001, (i + 1 < fr.length ? fr[i + 1].t : end) - f.t).toFixed(3)}\n`; });
    writeFileSync(list, `${text}file '${fr.at(-1).file}'\n`);
    return list;
  };
  const lists = Object.fromEntries(sources.map((s) => [s.name, concat(s)]));
  const sinkWav = path.join(work, 'sink.wav');
  execFileSync('sox', ['-t', 'raw', '-r', '48000', '-c', '1', '-b', '32', '-e', 'floating-point', sinkFile, sinkWav, 'trim', '0', String(end)]);

  // Layout: the console (top left), the terminal under it, the two phones on the right, captions below.
  const text = (s, x, y, size, more = '') => {
    const file = path.join(work, `text-${Math.random().toString(36).slice(2)}.txt`);
    writeFileSync(file, s);
    return `drawtext=fontfile=${FONT}:textfile=${file}:x=${x}:y=${y}:fontsize=${size}:fontcolor=white${more}`;
  };
  const draw = [
    text('Professor: console', 10, 6, 18), text('Professor: terminal', 10, 496, 18),
    text('Ana\'s phone', 700, 6, 18), text('Ben\'s phone', 990, 6, 18),
    ...captions.map((c, i) => c.text && text(c.text, '(w-text_w)/2', 676, 22,
      `:box=1:boxcolor=black@0.7:boxborderw=8:enable='between(t,${c.from.toFixed(2)},${(captions[i + 1]?.from ?? end).toFixed(2)})'`)).filter(Boolean),
  ];
  const filter = [
    `[1:v]scale=680:-2,fps=${FPS}[con]`, `[2:v]scale=680:-2,fps=${FPS}[ter]`,
    `[3:v]scale=270:-2,fps=${FPS}[a]`, `[4:v]scale=270:-2,fps=${FPS}[b]`,
    `[0:v][con]overlay=10:30:shortest=1[v1]`, '[v1][ter]overlay=10:520[v2]',
    '[v2][a]overlay=700:30[v3]', '[v3][b]overlay=990:30[v4]',
    `[v4]${draw.join(',')}[v]`,
  ].join(';');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `color=c=0x1d2733:s=${W}x${H}:r=${FPS}:d=${end.toFixed(2)}`,
    '-f', 'concat', '-safe', '0', '-i', lists.console, '-f', 'concat', '-safe', '0', '-i', lists.terminal,
    '-f', 'concat', '-safe', '0', '-i', lists.ana, '-f', 'concat', '-safe', '0', '-i', lists.ben,
    '-i', sinkWav, '-filter_complex', filter, '-map', '[v]', '-map', '5:a',
    '-c:v', 'libvpx-vp9', '-b:v', '0', '-crf', '42', '-deadline', 'good', '-cpu-used', '5', '-row-mt', '1',
    '-c:a', 'libopus', '-b:a', '64k', '-t', end.toFixed(2), out], { stdio: 'inherit' });
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-ss', stillAt.toFixed(2), '-i', out, '-frames:v', '1', still]);
} finally {
  await h.close();
}

// The checks: length, streams, size, and each talk heard in the video's own audio where it was said.
const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', out], { encoding: 'utf8' }));
const duration = Number(probe.format.duration);
const kinds = probe.streams.map((s) => s.codec_type).sort();
const bytes = statSync(out).size;
console.log(`${path.relative(root, out)}: ${duration.toFixed(1)} s, streams ${kinds.join(' + ')}, ${(bytes / 1048576).toFixed(2)} MB`);
const problems = [];
if (!(duration >= MIN_S && duration <= MAX_S)) problems.push(`length ${duration.toFixed(1)} s is outside ${MIN_S}-${MAX_S} s`);
if (kinds.join() !== 'audio,video') problems.push(`streams: ${kinds.join(', ')} (one video and one audio expected)`);
if (bytes > MAX_BYTES) problems.push(`${bytes} bytes is over 10 MB`);
const trackFile = path.join(work, 'track.f32');
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', out, '-vn', '-ac', '1', '-ar', '48000', '-f', 'f32le', trackFile]);
const track = readFloat32(trackFile);
for (const t of talks) {
  // From the press to 1.5 s after the release: where the picture shows the talk.
  const env = envelope(track, Math.round(t.from * 48000), Math.min(track.length, Math.round((t.to + 1.5) * 48000)));
  const [o1, o2] = firstTalk(env, 150, 0);
  const { best, mean } = o1 >= 0 ? matchTalk(env.slice(o1, o2 + 1), t.speech.samples) : { best: 0, mean: 0 };
  console.log(`${t.who}: held ${t.from.toFixed(1)}-${t.to.toFixed(1)} s; heard in the video from ${(t.from + o1 / 100).toFixed(1)} s, ` +
    `envelope correlation with what was said ${best.toFixed(3)} (mean ${mean.toFixed(3)})`);
  if (!(best >= HEARD)) problems.push(`${t.who}'s speech is not heard in the video's audio (correlation ${best.toFixed(3)}, at least ${HEARD} needed)`);
  if (o1 > 100) problems.push(`${t.who} is heard ${o1 / 100} s after the press (out of sync)`);
}
if (problems.length) {
  console.error(`demo: ${problems.join('; ')}`);
  process.exit(1);
}
console.log('demo: ok');
