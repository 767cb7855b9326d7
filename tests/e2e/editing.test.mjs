// End-to-end test of editing with the GAN in headless Chromium (playwright-core), run with
// node's built-in test runner: `GANVAS_URL=http://127.0.0.1:8080/ node tests/e2e/editing.test.mjs`.
//
// On the CPU backend it draws a 7, finds it in the latent space, checks the reconstruction and
// the ten-digit style grid, puts a 3 in the drawing's style on the canvas, undoes and redoes it.
// It moves along the interpolation path with the slider and the animation, and masks part of a
// drawn 7 for the GAN to fill in. It uploads a PNG, a JPEG and a WebP of a 7 and a text file,
// and exports the canvas as a PNG.

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
  assert.equal(await byTestId(page, 'interpolate-set-start').isVisible(), false, 'no path before a search');
  assert.equal(await byTestId(page, 'reconstruction').isVisible(), false, 'no result before a search');
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

/** Returns the canvas's pixels as a data URL, to compare two renderings. */
function pixelsOf(testId) {
  return byTestId(page, testId).evaluate((canvas) => canvas.toDataURL());
}

test('the interpolation slider and animation move along the path', async () => {
  const path = byTestId(page, 'interpolate-path');
  await pollUntil(async () => (await path.getAttribute('data-tiles')) === '8', {
    timeoutMs: 30_000,
    description: 'eight images along the path',
  });
  const caption = await byTestId(page, 'interpolate-caption').textContent();
  assert.match(caption, /^From your 7 to a random \d: 0% of the way$/);

  const slider = byTestId(page, 'interpolate-slider');
  const frame = byTestId(page, 'interpolate-frame');
  const start = await pixelsOf('interpolate-frame');
  assert.ok((await inkedPixels('interpolate-frame')) > 20, 'the frame at the start is blank');
  await slider.fill('1');
  await pollUntil(async () => (await frame.getAttribute('data-position')) === '1.00', {
    timeoutMs: 10_000,
    description: 'the frame to follow the slider',
  });
  await pollUntil(async () => (await pixelsOf('interpolate-frame')) !== start, {
    timeoutMs: 10_000,
    description: 'the end frame to differ from the start',
  });

  await byTestId(page, 'interpolate-play').click();
  await page.waitForTimeout(600);
  const moving = Number(await frame.getAttribute('data-position'));
  assert.ok(moving < 1, `the animation moves back from the end (at ${moving})`);
  await byTestId(page, 'interpolate-play').click();
  const paused = await frame.getAttribute('data-position');
  await page.waitForTimeout(400);
  assert.equal(await frame.getAttribute('data-position'), paused, 'pause stops the animation');

  // The start of the path is the found 7: placed on the canvas it reads as a 7.
  await slider.fill('0');
  await pollUntil(async () => (await pixelsOf('interpolate-frame')) === start, {
    timeoutMs: 10_000,
    description: 'the start frame to return',
  });
  await byTestId(page, 'interpolate-place').click();
  const placed = await settledPrediction(page, { expectText: true });
  assert.equal(placed.text, '7');
});

/** Sums the mask layer's alpha, in units of fully masked pixels. */
function maskedPixels() {
  return byTestId(page, 'mask-layer').evaluate((canvas) => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let alpha = 0;
    for (let index = 3; index < data.length; index += 4) {
      alpha += data[index];
    }
    return alpha / 255;
  });
}

test('a masked part of a drawing is filled in by the GAN', async () => {
  await byTestId(page, 'clear-canvas').click();
  await drawWithMouse(page, DIGIT_STROKES[7]);
  assert.equal((await settledPrediction(page, { expectText: true })).text, '7');
  await byTestId(page, 'inpaint-mode').click();
  assert.equal(await byTestId(page, 'inpaint-mode').getAttribute('aria-pressed'), 'true');
  // A band across the lower half of the slanted stroke.
  await drawWithMouse(page, [
    [
      [0.25, 0.65],
      [0.7, 0.65],
    ],
  ]);
  assert.ok((await maskedPixels()) > 1000, 'the mask layer is painted');
  await pollUntil(() => byTestId(page, 'mask-hint').isVisible(), {
    timeoutMs: 10_000,
    description: 'the hint that part of the drawing is masked',
  });

  await byTestId(page, 'invert-run').click();
  await pollUntil(
    async () => (await byTestId(page, 'invert-progress').getAttribute('data-done')) === 'true',
    { timeoutMs: SEARCH_TIMEOUT_MS, description: 'the inpainting search to finish' },
  );
  assert.equal(await byTestId(page, 'inpainted').isVisible(), true);
  assert.ok((await inkedPixels('inpainted')) > 20, 'the filled-in drawing is blank');
  await page.screenshot({ path: `${SCREENSHOT_DIR}inpainting.png`, fullPage: true });
  assert.equal(await byTestId(page, 'clean-up').textContent(), 'Put the filled-in drawing on the canvas');

  await byTestId(page, 'clean-up').click();
  const filled = await settledPrediction(page, { expectText: true });
  assert.equal(filled.text, '7');
  assert.equal(await maskedPixels(), 0, 'placing the result clears the mask');
  assert.equal(await byTestId(page, 'mask-hint').isVisible(), false);

  assert.equal(
    await byTestId(page, 'inpaint-mode').getAttribute('aria-pressed'),
    'false',
    'placing a result returns to the brush',
  );

  // Undo brings the masked drawing back, mask included.
  await byTestId(page, 'undo').click();
  await settledPrediction(page, { expectText: true });
  assert.ok((await maskedPixels()) > 1000, 'undo restores the mask');

  // The eraser leaves the mask alone; Clear mask removes it as an undoable action.
  await page.getByRole('button', { name: 'Eraser' }).click();
  const inkBefore = await byTestId(page, 'draw-canvas').evaluate((canvas) => canvas.toDataURL());
  await drawWithMouse(page, [
    [
      [0.25, 0.65],
      [0.7, 0.65],
    ],
  ]);
  assert.notEqual(await byTestId(page, 'draw-canvas').evaluate((canvas) => canvas.toDataURL()), inkBefore);
  assert.ok((await maskedPixels()) > 1000, 'the eraser keeps the mask');
  await byTestId(page, 'clear-mask').click();
  assert.equal(await maskedPixels(), 0, 'Clear mask empties the mask layer');
  await pollUntil(async () => !(await byTestId(page, 'mask-hint').isVisible()), {
    timeoutMs: 10_000,
    description: 'the mask hint to go',
  });
  await byTestId(page, 'undo').click();
  assert.ok((await maskedPixels()) > 1000, 'undo brings the cleared mask back');
  await byTestId(page, 'clear-canvas').click();
  await page.getByRole('button', { name: 'Brush' }).click();
});

test('a mask over the whole drawing is named, not searched', async () => {
  await drawWithMouse(page, DIGIT_STROKES[1]);
  await settledPrediction(page, { expectText: true });
  await byTestId(page, 'inpaint-mode').click();
  await drawWithMouse(page, [
    [
      [0.5, 0.05],
      [0.5, 0.95],
    ],
  ]);
  await pollUntil(
    async () => /covers all of the drawing/.test(await byTestId(page, 'mask-hint').textContent()),
    { timeoutMs: 10_000, description: 'the hint that everything is masked' },
  );
  const before = await byTestId(page, 'invert-progress').textContent();
  await byTestId(page, 'invert-run').click();
  assert.match(await page.locator('section.edit-panel p.message').textContent(), /nothing is left to fit/);
  assert.equal(await byTestId(page, 'invert-progress').textContent(), before, 'no search started');
  await byTestId(page, 'clear-canvas').click();
  await page.getByRole('button', { name: 'Brush' }).click();
});

test('a stopped search keeps the last finished results', async () => {
  await drawWithMouse(page, DIGIT_STROKES[0]);
  assert.equal((await settledPrediction(page, { expectText: true })).text, '0');
  await byTestId(page, 'invert-run').click();
  await pollUntil(
    async () => Number((await page.locator('[data-testid="invert-job"] progress').getAttribute('value')) ?? 0) > 0,
    { timeoutMs: SEARCH_TIMEOUT_MS, intervalMs: 50, description: 'the progress bar to move' },
  );
  await byTestId(page, 'job-stop').click();
  await pollUntil(async () => (await byTestId(page, 'invert-job').count()) === 0, {
    timeoutMs: 10_000,
    description: 'the search to stop',
  });
  assert.equal(await byTestId(page, 'style-grid').getAttribute('data-tiles'), '10', 'the style grid stays');
  assert.equal(await byTestId(page, 'clean-up').isDisabled(), false, 'the best fit so far can be used');
  assert.match(await byTestId(page, 'interpolate-caption').textContent(), /^From your 7 /);
  await byTestId(page, 'clear-canvas').click();
});

test('Ctrl+Z in a text field leaves the canvas alone', async () => {
  await drawWithMouse(page, DIGIT_STROKES[1]);
  assert.equal((await settledPrediction(page, { expectText: true })).text, '1');
  const field = byTestId(page, 'teach-class-name').first();
  await field.fill('');
  await field.type('cats');
  await page.keyboard.press('Control+Z');
  await page.waitForTimeout(300);
  assert.equal((await settledPrediction(page, { expectText: true })).text, '1', 'the drawing stays');

  // Mid-stroke, Ctrl+Z does nothing: neither the canvas nor the browser's undo of the field.
  await field.fill('cats');
  const canvasBox = await byTestId(page, 'draw-canvas').boundingBox();
  await page.mouse.move(canvasBox.x + canvasBox.width * 0.3, canvasBox.y + canvasBox.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(canvasBox.x + canvasBox.width * 0.7, canvasBox.y + canvasBox.height * 0.5, { steps: 5 });
  await page.keyboard.press('Control+Z');
  await page.mouse.up();
  assert.equal(await field.inputValue(), 'cats', 'the text field keeps its text');
  assert.equal(await byTestId(page, 'redo').isDisabled(), true, 'nothing was undone');

  // A slider with the focus leaves the shortcut to the canvas: the stroke is undone.
  await byTestId(page, 'interpolate-slider').focus();
  await page.keyboard.press('Control+Z');
  assert.equal(await byTestId(page, 'redo').isDisabled(), false, 'the stroke was undone');
  assert.equal((await settledPrediction(page, { expectText: true })).text, '1');
  await field.fill('');
  await byTestId(page, 'clear-canvas').click();
});

/**
 * Makes an image of a thick 7 in the page and writes it to `path`: `type` is a MIME type the
 * canvas encodes, `paper` and `ink` are CSS colours.
 */
async function writeSeven(path, { type = 'image/png', paper = '#f2efe6', ink = '#202020' } = {}) {
  const dataUrl = await page.evaluate(({ type, paper, ink }) => {
    const canvas = document.createElement('canvas');
    canvas.width = 120;
    canvas.height = 90;
    const context = canvas.getContext('2d');
    context.fillStyle = paper;
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.strokeStyle = ink;
    context.lineWidth = 9;
    context.lineCap = 'round';
    context.beginPath();
    context.moveTo(35, 15);
    context.lineTo(85, 15);
    context.lineTo(55, 80);
    context.stroke();
    return canvas.toDataURL(type, 0.9);
  }, { type, paper, ink });
  assert.ok(dataUrl.startsWith(`data:${type};`), `the canvas encoded ${type}`);
  writeFileSync(path, Buffer.from(dataUrl.split(',')[1], 'base64'));
}

test('an uploaded PNG lands on the canvas', async () => {
  await byTestId(page, 'clear-canvas').click();
  const path = `${SCREENSHOT_DIR}upload-seven.png`;
  await writeSeven(path);
  await byTestId(page, 'upload-image').setInputFiles(path);
  const prediction = await settledPrediction(page, { expectText: true });
  assert.equal(prediction.text, '7');
  assert.equal(await byTestId(page, 'upload-message').isVisible(), false);
});

test('uploaded JPEG and WebP images land on the canvas', async () => {
  const cases = [
    { name: 'upload-seven-light-on-dark.jpg', type: 'image/jpeg', paper: '#151515', ink: '#f0f0f0' },
    { name: 'upload-seven.webp', type: 'image/webp', paper: '#ffffff', ink: '#1a1a8a' },
  ];
  for (const { name, ...image } of cases) {
    await byTestId(page, 'clear-canvas').click();
    const path = `${SCREENSHOT_DIR}${name}`;
    await writeSeven(path, image);
    await byTestId(page, 'upload-image').setInputFiles(path);
    const prediction = await settledPrediction(page, { expectText: true });
    assert.equal(prediction.text, '7', name);
    assert.equal(await byTestId(page, 'upload-message').isVisible(), false, name);
  }
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
