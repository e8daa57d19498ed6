#!/usr/bin/env node
// The student's capture path (denoise + gain + VAD + meter + Opus encode + framing) per 20 ms
// frame: natively (build/native/bench/capture_bench), and the production wasm module
// (build/wasm/client-wasm/ptt_capture.wasm, loaded by web/ptt-wasm.js as the worklet loads it)
// under node and in headless Chromium, all in this one invocation. Needs both builds
// (./scripts/test or the presets). Usage: node bench/capture_cost.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { measure } from './capture_measure.mjs';

const root = path.resolve(import.meta.dirname, '..');
// web/ is not a node package (a .js file there is not an ES module to node 20): import the
// loader's own text.
const { instantiate } = await import(`data:text/javascript,${encodeURIComponent(readFileSync(path.join(root, 'web/ptt-wasm.js'), 'utf8'))}`);
const wasmFile = process.env.PTT_WASM ?? path.join(root, 'build/wasm/client-wasm/ptt_capture.wasm');
const nativeBench = process.env.PTT_CAPTURE_BENCH ?? path.join(root, 'build/native/bench/capture_bench');
const speechFile = path.join(root, 'build/native/tests/testdata/speech.f32');
// playwright-core is installed for the browser tests (scripts/setup).
const { chromium } = createRequire(path.join(root, 'tests/browser/package.json'))('playwright-core');

const quantile = (v, q) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

const buf = readFileSync(speechFile);
const speech = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
const wasmBytes = readFileSync(wasmFile);

// Native, the same C++ (and the Opus-alone baseline).
const nativeOut = execFileSync(nativeBench, { encoding: 'utf8' });
const m = nativeOut.match(/RESULT native_capture_us median=([\d.]+) p99=([\d.]+) encode_median=([\d.]+)/);
if (!m) throw new Error(`unexpected output from ${nativeBench}:\n${nativeOut}`);
const native = { median: Number(m[1]), p99: Number(m[2]) };

// Node: the module and loader the page uses.
const nodeBatches = measure(instantiate(new WebAssembly.Module(wasmBytes)), speech);

// Chromium: the same files served to a page by request interception (nothing leaves the machine).
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
let chromiumBatches;
try {
  const page = await browser.newPage();
  const files = {
    '/': ['text/html', '<!doctype html><title>capture bench</title>'],
    '/ptt-wasm.js': ['text/javascript', readFileSync(path.join(root, 'web/ptt-wasm.js'))],
    '/capture_measure.mjs': ['text/javascript', readFileSync(path.join(root, 'bench/capture_measure.mjs'))],
    '/ptt_capture.wasm': ['application/wasm', wasmBytes],
  };
  await page.route('http://bench.invalid/**', (route) => {
    const f = files[new URL(route.request().url()).pathname];
    return f ? route.fulfill({ status: 200, contentType: f[0], body: f[1] }) : route.fulfill({ status: 404 });
  });
  await page.goto('http://bench.invalid/');
  chromiumBatches = await page.evaluate(async (samples) => {
    const { instantiate } = await import('/ptt-wasm.js');
    const { measure } = await import('/capture_measure.mjs');
    const module = await WebAssembly.compileStreaming(fetch('/ptt_capture.wasm'));
    return measure(instantiate(module), new Float32Array(samples));
  }, Array.from(speech));
} finally {
  await browser.close();
}

process.stdout.write(nativeOut.split('\n').filter((l) => !l.startsWith('RESULT')).join('\n'));
const row = (name, med, p99) =>
  console.log(`  ${name.padEnd(28)} median ${med.toFixed(1).padStart(7)} us  p99 ${p99.toFixed(1).padStart(7)} us  ` +
              `${(med / native.median).toFixed(2)}x native; ${(med / 200).toFixed(2)} % of real time`);
console.log('Capture path per 20 ms frame, production wasm module (same runs and batches)');
row('native (above)', native.median, native.p99);
row('wasm under node', quantile(nodeBatches, 0.5), quantile(nodeBatches, 0.99));
row('wasm in Chromium', quantile(chromiumBatches, 0.5), quantile(chromiumBatches, 0.99));
console.log(`RESULT wasm_capture_us node_median=${quantile(nodeBatches, 0.5).toFixed(3)} chromium_median=${quantile(chromiumBatches, 0.5).toFixed(3)} native_median=${native.median.toFixed(3)}`);
