// Measures GAN editing in the built app in headless Chromium and prints the figures. Held-out
// MNIST test digits (the first ones of the shipped asset's test split) go onto the canvas
// through the upload path, as a scan of a digit would. Each is made into a dark-on-light PNG,
// uploaded, recognised, and found with Find it. The bench prints the time of each 200-step
// search and the reconstruction error. It also prints how often the classifier reads the
// cleaned-up drawing as the true digit, and each style-grid digit placed on the canvas as the
// digit it was drawn as.
//
// Usage: node tests/e2e/bench-editing.mjs [URL] [BACKEND] [DIGITS]
// URL defaults to http://127.0.0.1:8080/ (a server of dist/ must be running there); BACKEND is
// cpu (default) or gpu; DIGITS defaults to 20.

import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import { byTestId, launchBrowser, pollUntil, readPrediction, waitForTrainingReady, withBackend } from './page.mjs';

const backend = process.argv[3] || 'cpu';
const url = withBackend(process.argv[2] || 'http://127.0.0.1:8080/', backend);
const digits = Number.parseInt(process.argv[4] || '20', 10);
const ASSET = fileURLToPath(new URL('../../assets/mnist.bin.gz', import.meta.url));
// NOTE: estimates; a CPU search took about 5 s on a 2-core machine, and WebGPU on SwiftShader
// compiles its shaders for minutes first.
const SEARCH_TIMEOUT_MS = backend === 'gpu' ? 1_800_000 : 300_000;
const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** Reads the first `count` test digits of the shipped MNIST asset (see `data::decode_asset`). */
function testDigits(count) {
  const raw = gunzipSync(readFileSync(ASSET));
  const train = raw.readUInt32LE(12);
  const test = raw.readUInt32LE(16);
  const labelsAt = 20 + train * (1 + PIXELS);
  const pixelsAt = labelsAt + test;
  return Array.from({ length: Math.min(count, test) }, (_, index) => ({
    label: raw[labelsAt + index],
    pixels: [...raw.subarray(pixelsAt + index * PIXELS, pixelsAt + (index + 1) * PIXELS)],
  }));
}

/** Clicks `action` and returns the prediction after the next classification. */
async function predictionAfter(page, action) {
  const before = (await readPrediction(page)).latencyMs;
  await action();
  // The latency attribute changes with every classification. The wait also ends after 2 s, in
  // case the new latency happens to equal the old one.
  const started = Date.now();
  await pollUntil(async () => (await readPrediction(page)).latencyMs !== before || Date.now() - started > 2000, {
    timeoutMs: 10_000,
    intervalMs: 50,
    description: 'a new prediction',
  });
  return (await readPrediction(page)).text;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const browser = await launchBrowser();
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
page.on('pageerror', (error) => console.log(`page error: ${error.message}`));
await page.goto(url);
await waitForTrainingReady(page, 600_000);
const backendText = (await byTestId(page, 'backend').textContent()).trim();
console.log(`page: ${url} · backend: ${backendText}`);

const folder = mkdtempSync(join(tmpdir(), 'ganvas-bench-'));
const seconds = [];
const errors = [];
let recognised = 0;
let reconstructions = 0;
let swaps = 0;
for (const [index, digit] of testDigits(digits).entries()) {
  const dataUrl = await page.evaluate((pixels) => {
    const canvas = document.createElement('canvas');
    canvas.width = 28;
    canvas.height = 28;
    const context = canvas.getContext('2d');
    const image = context.createImageData(28, 28);
    pixels.forEach((ink, pixel) => {
      image.data.set([255 - ink, 255 - ink, 255 - ink, 255], pixel * 4);
    });
    context.putImageData(image, 0, 0);
    return canvas.toDataURL('image/png');
  }, digit.pixels);
  const path = join(folder, `digit-${index}.png`);
  writeFileSync(path, Buffer.from(dataUrl.split(',')[1], 'base64'));
  const read = await predictionAfter(page, () => byTestId(page, 'upload-image').setInputFiles(path));
  recognised += read === String(digit.label) ? 1 : 0;

  const started = Date.now();
  await byTestId(page, 'invert-run').click();
  await pollUntil(
    async () => (await byTestId(page, 'invert-progress').getAttribute('data-done')) === 'true',
    { timeoutMs: SEARCH_TIMEOUT_MS, intervalMs: 50, description: 'the search to finish' },
  );
  seconds.push((Date.now() - started) / 1000);
  const progress = await byTestId(page, 'invert-progress').textContent();
  errors.push(Number.parseFloat(progress.match(/error (\d+\.\d+)/)[1]));

  const cleaned = await predictionAfter(page, () => byTestId(page, 'clean-up').click());
  reconstructions += cleaned === String(digit.label) ? 1 : 0;
  const grid = byTestId(page, 'style-grid');
  await pollUntil(async () => (await grid.getAttribute('data-tiles')) === '10', {
    timeoutMs: 30_000,
    description: 'the style grid',
  });
  const box = await grid.boundingBox();
  let swapped = 0;
  for (let tile = 0; tile < 10; tile++) {
    const placed = await predictionAfter(page, () =>
      page.mouse.click(box.x + (box.width * (tile + 0.5)) / 10, box.y + box.height / 2),
    );
    swapped += placed === String(tile) ? 1 : 0;
  }
  swaps += swapped;
  console.log(
    `digit ${index} (a ${digit.label}, read as ${read}): search ${seconds.at(-1).toFixed(1)} s, error ${errors.at(-1)}, cleaned up read as ${cleaned}, ${swapped}/10 swaps`,
  );
}
await browser.close();

const count = seconds.length;
const percent = (hits, total) => ((100 * hits) / total).toFixed(1);
console.log(`${count} MNIST test digits uploaded as PNGs, ${backendText}:`);
console.log(`  uploads recognised: ${recognised}/${count} (${percent(recognised, count)}%)`);
console.log(
  `  200-step search: median ${median(seconds).toFixed(2)} s, min ${Math.min(...seconds).toFixed(2)} s, max ${Math.max(...seconds).toFixed(2)} s (click to done, page clock)`,
);
console.log(`  reconstruction error: median ${median(errors).toFixed(4)}`);
console.log(`  cleaned-up drawings read as the true digit: ${reconstructions}/${count} (${percent(reconstructions, count)}%)`);
console.log(`  style-grid digits read as requested: ${swaps}/${count * 10} (${percent(swaps, count * 10)}%)`);
