// One student's page in any of the three engines students arrive with, behind one small interface,
// so a test says what a student does once and runs it in each: Chromium (Debian's, driven by
// playwright-core), Firefox (Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi)
// and WebKit (Debian's WebKitWebDriver with MiniBrowser under xvfb-run, driven by
// selenium-webdriver). Nothing is downloaded: each engine is a Debian package.
//
// The microphone is the harness's PulseAudio source `mic` (startPulse({ speechMic: true })), which
// every engine opens as a real device; the pages' own sounds go to the sink `browser_out`.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import { Builder, By } from 'selenium-webdriver';
import { freePort, sleepMs as sleep } from './harness.mjs';

export const ENGINES = ['chromium', 'firefox', 'webkit'];
const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

// What every engine's student can do. `eval` takes a JavaScript expression (a string) and returns
// its JSON-able value.
class Student {
  constructor(engine) { this.engine = engine; }

  async join(url, name) {
    await this.goto(url);
    await this.waitFor(`document.getElementById('app')?.dataset.state === 'join'`, 20000);
    await this.type('#name', name);
    await this.click('#join button[type=submit]');
    await this.waitState('ready', 20000);
  }

  state() { return this.eval(`document.getElementById('app').dataset.state`); }
  text(selector) { return this.eval(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`); }

  // Polls `expression` until it is true; throws after `ms` with what the page showed.
  async waitFor(expression, ms = 5000) {
    const end = performance.now() + ms;
    for (;;) {
      // A page that stopped answering (a hung content process) fails the wait too.
      const answer = await Promise.race([this.eval(expression).catch(() => false), sleep(3000).then(() => 'hung')]);
      if (answer === 'hung') throw new Error(`${this.engine}: the page did not answer for 3 s while waiting for ${expression}`);
      if (answer) return;
      if (performance.now() > end) {
        const shown = await this.eval(`document.getElementById('app')?.dataset.state + ': ' + (document.getElementById('error')?.textContent || document.getElementById('status')?.textContent || '')`).catch((e) => `(${e.message})`);
        throw new Error(`${this.engine}: waited ${ms} ms for ${expression}; the page shows ${shown}`);
      }
      await sleep(40);
    }
  }
  waitState(s, ms = 5000) { return this.waitFor(`document.getElementById('app')?.dataset.state === ${JSON.stringify(s)}`, ms); }
}

class ChromiumStudent extends Student {
  static async open(h) {
    const s = new ChromiumStudent('chromium');
    s.page = await h.browser({ pulseMic: true });
    return s;
  }
  goto(url) { return this.page.goto(url); }
  eval(expression) { return this.page.evaluate(expression); }
  type(selector, text) { return this.page.locator(selector).fill(text); }
  click(selector) { return this.page.locator(selector).click(); }
  async down() {
    const box = await this.page.locator('#talk').boundingBox();
    await this.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await this.page.mouse.down();
  }
  up() { return this.page.mouse.up(); }
  screenshot(file) { return this.page.screenshot({ path: file }); }
  close() { return this.page.context().close(); }
}

// Firefox's audio on this rig: with cubeb on PulseAudio (the real microphone) its content process
// now and then stops answering while the page starts its AudioContext (1 launch in 4 to 6 here,
// with the fake microphone too; never in 12 with cubeb's mock context, which has no real
// microphone). So a student who must be heard gets PulseAudio, and is relaunched if the page hangs
// on joining (joinRetrying); a student who is only seen gets the fake microphone on the mock.
const FIREFOX_REAL_MIC = { 'media.navigator.permission.disabled': true, 'media.navigator.streams.fake': false };
const FIREFOX_SEEN_ONLY = { 'media.navigator.permission.disabled': true, 'media.navigator.streams.fake': true,
                            'media.cubeb.force_mock_context': true };

class FirefoxStudent extends Student {
  // `heard`: the PulseAudio microphone (else Firefox's fake one, without a sound server). `prefs`
  // and `env` replace the defaults (a test that breaks the audio on purpose).
  static async open(h, { heard = true, prefs, env } = {}) {
    const s = new FirefoxStudent('firefox');
    s.browser = await puppeteer.launch({
      browser: 'firefox', executablePath: '/usr/bin/firefox-esr', headless: true, acceptInsecureCerts: true,
      env: env ?? { ...h.env, PULSE_SOURCE: 'mic', PULSE_SINK: 'browser_out' },
      extraPrefsFirefox: prefs ?? (heard ? FIREFOX_REAL_MIC : FIREFOX_SEEN_ONLY),
    });
    s.page = await s.browser.newPage();
    await s.page.setViewport({ width: 390, height: 760 });
    s.page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') console.log(`[firefox] ${m.text()}`); });
    return s;
  }
  goto(url) { return this.page.goto(url); }
  eval(expression) { return this.page.evaluate(expression); }
  type(selector, text) { return this.page.type(selector, text); }
  click(selector) { return this.page.click(selector); }
  async down() {
    const box = await (await this.page.$('#talk')).boundingBox();
    await this.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await this.page.mouse.down();
  }
  up() { return this.page.mouse.up(); }
  screenshot(file) { return this.page.screenshot({ path: file }); }
  // A hung content process may keep close() waiting: 5 s, then the browser is killed.
  async close() {
    const browser = this.browser.process();
    await Promise.race([this.browser.close().catch(() => {}), sleep(5000)]);
    browser?.kill('SIGKILL');
  }
}

class WebKitStudent extends Student {
  static async open(h) {
    const s = new WebKitStudent('webkit');
    const port = await freePort();
    // WebKitGTK hides SharedArrayBuffer even from an isolated page unless JavaScriptCore is told
    // (Safari gives it to isolated pages, as Chromium and Firefox do); the web process reads the
    // option from its environment. Its own process group, so that closing stops Xvfb too.
    s.driverProcess = spawn('xvfb-run', ['-a', 'WebKitWebDriver', `--port=${port}`], {
      env: { ...h.env, PULSE_SOURCE: 'mic', PULSE_SINK: 'browser_out', JSC_useSharedArrayBuffer: '1' },
      stdio: 'ignore', detached: true,
    });
    for (let i = 0; i < 200; i++) {
      if (await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok, () => false)) break;
      await sleep(50);
    }
    s.driver = await new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities({
      browserName: 'MiniBrowser', acceptInsecureCerts: true,
      // The driver does not add --automation itself, and without it no session starts.
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    }).build();
    await s.driver.manage().window().setRect({ width: 390, height: 760 }).catch(() => {});
    return s;
  }
  goto(url) { return this.driver.get(url); }
  eval(expression) { return this.driver.executeScript(`return (${expression});`); }
  async type(selector, text) { await this.driver.findElement(By.css(selector)).sendKeys(text); }
  async click(selector) { await this.driver.findElement(By.css(selector)).click(); }
  async down() {
    const talk = await this.driver.findElement(By.css('#talk'));
    await this.driver.actions({ async: true }).move({ origin: talk }).press().perform();
  }
  up() { return this.driver.actions({ async: true }).release().perform(); }
  async screenshot(file) { writeFileSync(file, Buffer.from(await this.driver.takeScreenshot(), 'base64')); }
  async close() {
    await this.driver.quit().catch(() => {});
    try { process.kill(-this.driverProcess.pid, 'SIGTERM'); } catch { /* gone already */ }
  }
}

// Opens a student and joins as `name`; in Firefox a page that stops answering while it joins is
// closed and opened again (at most 3 launches), with a line saying so.
export async function joinRetrying(engine, h, url, name, options) {
  for (let attempt = 1; ; attempt++) {
    const student = await openStudent(engine, h, options);
    try {
      await student.join(url, name);
      return student;
    } catch (e) {
      await student.close().catch(() => {});
      if (engine !== 'firefox' || attempt === 3 || !/did not answer/.test(e.message)) throw e;
      console.log(`${engine}: ${name}'s page stopped answering while joining; launching it again (${e.message})`);
      await sleep(1000);  // the server sees the old page go
    }
  }
}

export function openStudent(engine, h, options) {
  switch (engine) {
    case 'chromium': return ChromiumStudent.open(h, options);
    case 'firefox': return FirefoxStudent.open(h, options);
    case 'webkit': return WebKitStudent.open(h, options);
    default: throw new Error(`unknown engine ${engine}`);
  }
}
