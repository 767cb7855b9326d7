// End-to-end test of the Ganvas page in headless Chromium (playwright-core), run with node's
// built-in test runner: `GANVAS_URL=http://127.0.0.1:8080/ node tests/e2e/app.test.mjs`.
//
// It loads the page with `?backend=cpu`, because CI machines have no GPU and WebGPU on the
// software adapter (SwiftShader) takes minutes per step. It draws digits with pointer strokes
// and checks the live prediction, clear and undo, then trains a few GAN steps and checks that
// the step count, loss chart and sample grid move and that Pause stops them. Screenshots go to
// tests/e2e/screenshots/, which git ignores.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  DIGIT_STROKES,
  byTestId,
  canvasDataUrl,
  drawWithMouse,
  drawWithTouch,
  launchBrowser,
  pollUntil,
  readLabStats,
  readStepCount,
  settledPrediction,
  waitForTrainingReady,
  withBackend,
} from './page.mjs';

const PAGE_URL = withBackend(process.env.GANVAS_URL || 'http://127.0.0.1:8080/', 'cpu');
const SCREENSHOT_DIR = fileURLToPath(new URL('./screenshots/', import.meta.url));
const VIEWPORT = { width: 1280, height: 1000 };
/** Side of the drawing canvas in CSS pixels, as the page's stylesheet sets it. */
const CANVAS_CSS_SIDE = 280;

// The worker decompresses MNIST (11 MB) and loads three models in WebAssembly before Train is
// enabled. NOTE: these limits are estimates with a wide margin, not measured maxima.
const READY_TIMEOUT_MS = 300_000;
const TRAINING_TIMEOUT_MS = 180_000;
const STEPS_TO_TRAIN = 5;
/**
 * Max per-channel difference (of 255) allowed between the model input before Clear and after
 * Undo. The page draws a live stroke one segment at a time but replays it as one path, so the
 * anti-aliased edges differ slightly. The 0, 1 and 7 here differed by up to 10. A replay that
 * lost or added a stroke differs by up to 255.
 */
const UNDO_PIXEL_TOLERANCE = 32;

mkdirSync(SCREENSHOT_DIR, { recursive: true });

/** Errors thrown in any page of the run, with the page's name. */
const pageErrors = [];
/** Console messages of type error, reported with failures to help diagnose them. */
const consoleErrors = [];

function watchPage(page, name) {
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(`${name}: ${message.text()}`);
    }
  });
}

/** Saves a screenshot of the page and the model-input canvas as PNG; returns their paths. */
async function saveEvidence(page, name) {
  const pagePath = `${SCREENSHOT_DIR}${name}.png`;
  const inputPath = `${SCREENSHOT_DIR}${name}-model-input.png`;
  await page.screenshot({ path: pagePath, fullPage: true });
  const dataUrl = await canvasDataUrl(page, 'model-input');
  writeFileSync(inputPath, Buffer.from(dataUrl.split(',')[1], 'base64'));
  return `${pagePath} and ${inputPath}`;
}

/** Returns a canvas's RGBA bytes. */
function readPixels(page, testId) {
  return byTestId(page, testId).evaluate((canvas) => {
    const context = canvas.getContext('2d');
    return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
  });
}

function maxDifference(first, second) {
  assert.equal(first.length, second.length, 'canvas size changed');
  let max = 0;
  for (let index = 0; index < first.length; index++) {
    max = Math.max(max, Math.abs(first[index] - second[index]));
  }
  return max;
}

async function clearAndExpectEmpty(page) {
  await byTestId(page, 'clear-canvas').click();
  const prediction = await settledPrediction(page, { expectText: false });
  assert.equal(prediction.text, '', `prediction after Clear should be empty, got "${prediction.text}"`);
}

/** Draws `digit` with `draw` and asserts the page predicts it; saves evidence when not. */
async function drawAndExpect(page, digit, draw, evidenceName) {
  await draw(page, DIGIT_STROKES[digit]);
  const prediction = await settledPrediction(page, { expectText: true });
  if (prediction.text !== String(digit)) {
    const paths = await saveEvidence(page, evidenceName);
    assert.fail(
      `drew a ${digit} but the page predicted "${prediction.text}" ` +
        `(probabilities ${prediction.probabilities}); screenshots: ${paths}`,
    );
  }
}

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

describe('touch strokes at devicePixelRatio 2', () => {
  let context;
  let page;

  before(async () => {
    context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 2, hasTouch: true });
    page = await context.newPage();
    watchPage(page, 'touch page');
    await page.goto(PAGE_URL);
    // Records the pointer types that reach the canvas, to show the strokes arrive as touch.
    await byTestId(page, 'draw-canvas').evaluate((canvas) => {
      window.pointerTypesSeen = new Set();
      canvas.addEventListener('pointerdown', (event) => window.pointerTypesSeen.add(event.pointerType));
    });
  });

  after(async () => {
    await context?.close();
  });

  test('backing store follows the ratio', async () => {
    const width = await byTestId(page, 'draw-canvas').evaluate((canvas) => canvas.width);
    assert.equal(width, CANVAS_CSS_SIDE * 2);
  });

  for (const digit of [7, 0]) {
    test(`touch-drawn ${digit} is recognised`, async () => {
      await clearAndExpectEmpty(page);
      await drawAndExpect(page, digit, drawWithTouch, `failed-touch-${digit}`);
      const pointerTypes = await page.evaluate(() => [...window.pointerTypesSeen]);
      assert.deepEqual(pointerTypes, ['touch']);
    });
  }

  test('touch screenshot saved', async () => {
    await page.screenshot({ path: `${SCREENSHOT_DIR}touch-dpr2.png` });
  });
});

describe('Ganvas page on the CPU backend', () => {
  let context;
  let page;

  before(async () => {
    context = await browser.newContext({ viewport: VIEWPORT });
    page = await context.newPage();
    watchPage(page, 'main page');
    await page.goto(PAGE_URL);
  });

  after(async () => {
    await context?.close();
  });

  for (const digit of [1, 0, 7]) {
    test(`mouse-drawn ${digit} is recognised`, async () => {
      await clearAndExpectEmpty(page);
      await drawAndExpect(page, digit, drawWithMouse, `failed-mouse-${digit}`);
    });
  }

  test('undo restores the prediction', async () => {
    // The canvas shows the 7 from the previous test.
    const before = await settledPrediction(page, { expectText: true });
    const inputBefore = await readPixels(page, 'model-input');
    await clearAndExpectEmpty(page);
    await byTestId(page, 'undo').click();
    const restored = await settledPrediction(page, { expectText: true });
    assert.equal(restored.text, before.text, 'prediction after Undo');
    const inputRestored = await readPixels(page, 'model-input');
    const difference = maxDifference(inputBefore, inputRestored);
    assert.ok(
      difference <= UNDO_PIXEL_TOLERANCE,
      `model input after Undo differs from before Clear by up to ${difference} of 255`,
    );
    await page.screenshot({ path: `${SCREENSHOT_DIR}after-drawing.png`, fullPage: true });
  });

  // The training tests share this run's numbers.
  const run = {};

  test('training becomes ready', { timeout: READY_TIMEOUT_MS + 30_000 }, async () => {
    await waitForTrainingReady(page, READY_TIMEOUT_MS);
    // The worker sends the first samples just after it enables Train.
    await pollUntil(async () => (await readLabStats(page)).gridStep !== null, {
      timeoutMs: 60_000,
      description: 'the first sample grid (sample-grid data-step)',
    });
    // The grid is painted by an effect that runs after the attribute is set.
    await page.waitForTimeout(300);
    const stats = await readLabStats(page);
    run.stepsBefore = stats.steps;
    run.gridStepBefore = Number(stats.gridStep);
    run.gridBefore = await canvasDataUrl(page, 'sample-grid');
    assert.equal(await byTestId(page, 'train-toggle').textContent(), 'Train');
    assert.equal(stats.backendKind, 'cpu', `backend is "${stats.backend}"`);
  });

  test('training advances steps and samples', { timeout: TRAINING_TIMEOUT_MS + 30_000 }, async (t) => {
    if (!run.gridBefore) {
      t.skip('training never became ready');
      return;
    }
    await byTestId(page, 'train-toggle').click();
    const target = run.stepsBefore + STEPS_TO_TRAIN;
    const reached = await pollUntil(
      async () => {
        const stats = await readLabStats(page);
        return stats.steps >= target && stats.lossPoints >= STEPS_TO_TRAIN ? stats : null;
      },
      {
        timeoutMs: TRAINING_TIMEOUT_MS,
        description: `step-count >= ${target} and loss-chart data-points >= ${STEPS_TO_TRAIN}`,
      },
    );
    assert.ok(reached.steps >= target);
    // The worker repaints the grid about once a second while training.
    await pollUntil(async () => Number((await readLabStats(page)).gridStep) > run.gridStepBefore, {
      timeoutMs: 30_000,
      description: `sample-grid data-step to pass ${run.gridStepBefore}`,
    });
    await page.waitForTimeout(300);
    const gridAfter = await canvasDataUrl(page, 'sample-grid');
    run.trained = true;
    assert.ok(gridAfter !== run.gridBefore, 'sample grid pixels did not change after training');
  });

  test('pause stops the step count', { timeout: 60_000 }, async (t) => {
    if (!run.trained) {
      t.skip('training did not run');
      return;
    }
    const toggle = byTestId(page, 'train-toggle');
    assert.equal(await toggle.textContent(), 'Pause', 'training is not running');
    await toggle.click();
    // The button reads "Train" again once the worker confirms the pause.
    await page.waitForFunction(
      () => document.querySelector('[data-testid="train-toggle"]')?.textContent === 'Train',
      undefined,
      { timeout: 30_000 },
    );
    const first = await readStepCount(page);
    await page.waitForTimeout(1_000);
    const second = await readStepCount(page);
    assert.equal(second, first, 'step count still rose after Pause');
    await page.screenshot({ path: `${SCREENSHOT_DIR}after-training.png`, fullPage: true });
  });

  test('no error banner is visible', async () => {
    const banner = byTestId(page, 'error');
    const visible = await banner.isVisible();
    const text = visible ? await banner.textContent() : '';
    assert.equal(visible, false, `error banner: ${text}`);
  });
});

test('no page errors were thrown', () => {
  const context = consoleErrors.length ? `; console errors: ${consoleErrors.join(' | ')}` : '';
  assert.deepEqual(pageErrors, [], `page errors${context}`);
});
