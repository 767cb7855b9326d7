// End-to-end test of editing with the GAN in headless Chromium (playwright-core), run with
// node's built-in test runner: `GANVAS_URL=http://127.0.0.1:8080/ node tests/e2e/editing.test.mjs`.
//
// On the CPU backend it draws a 7, finds it in the latent space, checks the reconstruction and
// the ten-digit style grid, puts a 3 in the drawing's style on the canvas, undoes and redoes it.
// It uploads a PNG of a 7 and a text file, and exports the canvas as a PNG.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import {
  DIGIT_STROKES,
  byTestId,
  drawWithMouse,
  launchBrowser,
  pollUntil,
  settledPrediction,
  waitForTrainingReady,
  withBackend,
} from './page.mjs';

const PAGE_URL = withBackend(process.env.GANVAS_URL || 'http://127.0.0.1:8080/', 'cpu');
const SCREENSHOT_DIR = fileURLToPath(new URL('./screenshots/', import.meta.url));
// NOTE: estimates with a wide margin; a 200-step search took a few seconds on 2 cores.
const READY_TIMEOUT_MS = 300_000;
const SEARCH_TIMEOUT_MS = 300_000;

mkdirSync(SCREENSHOT_DIR, { recursive: true });

const pageErrors = [];
let browser;
let page;

before(async () => {
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(PAGE_URL);
  await waitForTrainingReady(page, READY_TIMEOUT_MS);
});

after(async () => {
  await browser?.close();
});

/** Counts the dark pixels of a canvas. */
function inkedPixels(testId) {
  return byTestId(page, testId).evaluate((canvas) => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let dark = 0;
    for (let index = 0; index < data.length; index += 4) {
      dark += data[index] < 128 ? 1 : 0;
    }
    return dark;
  });
}

test('find a drawn 7 and redraw it as a 3', async () => {
  await drawWithMouse(page, DIGIT_STROKES[7]);
  const drawn = await settledPrediction(page, { expectText: true });
  assert.equal(drawn.text, '7');

  const started = Date.now();
  await byTestId(page, 'invert-run').click();
  await pollUntil(
    async () => (await byTestId(page, 'invert-progress').getAttribute('data-done')) === 'true',
    { timeoutMs: SEARCH_TIMEOUT_MS, description: 'the search to finish' },
  );
  const progress = await byTestId(page, 'invert-progress').textContent();
  console.log(`search: ${progress} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.match(progress, /^step 200 of 200 · error \d\.\d{4} .* as a 7$/);
  assert.ok((await inkedPixels('reconstruction')) > 20, 'the reconstruction is blank');

  const grid = byTestId(page, 'style-grid');
  await pollUntil(async () => (await grid.getAttribute('data-tiles')) === '10', {
    timeoutMs: 30_000,
    description: 'ten digits in the style grid',
  });
  assert.equal(await byTestId(page, 'variations').getAttribute('data-tiles'), '8');

  // Tile 3 of 10 is the 3; click its centre.
  const box = await grid.boundingBox();
  await page.mouse.click(box.x + box.width * 0.35, box.y + box.height / 2);
  const placed = await settledPrediction(page, { expectText: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}editing.png`, fullPage: true });
  assert.equal(placed.text, '3', 'the placed 3 is read as a 3');

  await byTestId(page, 'undo').click();
  const restored = await settledPrediction(page, { expectText: true });
  assert.equal(restored.text, '7', 'undo brings the drawn 7 back');

  await byTestId(page, 'redo').click();
  const redone = await settledPrediction(page, { expectText: true });
  assert.equal(redone.text, '3', 'redo puts the 3 back');
  assert.equal(await byTestId(page, 'redo').isDisabled(), true, 'nothing is left to redo');
});

/** Makes a PNG of a thick dark 7 on light paper in the page and writes it to `path`. */
async function writeSevenPng(path) {
  const dataUrl = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 120;
    canvas.height = 90;
    const context = canvas.getContext('2d');
    context.fillStyle = '#f2efe6';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.strokeStyle = '#202020';
    context.lineWidth = 9;
    context.lineCap = 'round';
    context.beginPath();
    context.moveTo(35, 15);
    context.lineTo(85, 15);
    context.lineTo(55, 80);
    context.stroke();
    return canvas.toDataURL('image/png');
  });
  writeFileSync(path, Buffer.from(dataUrl.split(',')[1], 'base64'));
}

test('an uploaded PNG lands on the canvas', async () => {
  await byTestId(page, 'clear-canvas').click();
  const path = `${SCREENSHOT_DIR}upload-seven.png`;
  await writeSevenPng(path);
  await byTestId(page, 'upload-image').setInputFiles(path);
  const prediction = await settledPrediction(page, { expectText: true });
  assert.equal(prediction.text, '7');
  assert.equal(await byTestId(page, 'upload-message').isVisible(), false);
});

test('a text file is rejected with a message', async () => {
  const path = `${SCREENSHOT_DIR}not-an-image.txt`;
  writeFileSync(path, 'this is not an image');
  await byTestId(page, 'upload-image').setInputFiles(path);
  const message = byTestId(page, 'upload-message');
  await pollUntil(() => message.isVisible(), { timeoutMs: 10_000, description: 'the upload message' });
  assert.match(await message.textContent(), /not a PNG, JPEG or WebP image/);
});

test('the exported PNG decodes to the canvas size', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), byTestId(page, 'export-png').click()]);
  const bytes = readFileSync(await download.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  // IHDR follows the signature: length, type, then width and height as big-endian integers.
  assert.equal(bytes.subarray(12, 16).toString('ascii'), 'IHDR');
  const side = await byTestId(page, 'draw-canvas').evaluate((canvas) => canvas.width);
  assert.equal(bytes.readUInt32BE(16), side);
  assert.equal(bytes.readUInt32BE(20), side);
});

test('no error banner and no page errors', async () => {
  const banner = byTestId(page, 'error');
  const text = (await banner.count()) ? await banner.textContent() : '';
  assert.equal(text, '', 'error banner');
  assert.deepEqual(pageErrors, []);
});
