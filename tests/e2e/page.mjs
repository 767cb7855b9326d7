// Helpers shared by the end-to-end test (app.test.mjs) and the benchmark (bench.mjs): how to
// start Chromium, the digit shapes and how to stroke them onto the page's drawing canvas, and
// readers for the page's data-testid hooks.

import { chromium } from 'playwright-core';

/** Chromium binary; Debian's `chromium` package installs it here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Chromium flags. `--enable-unsafe-webgpu` gives headless Chromium a WebGPU adapter (SwiftShader
 * on a machine without a GPU). `--use-angle=vulkan` is left out because headless Chromium 156
 * hung with it on the project's development machine, which has no GPU.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** Returns `url` with its `backend` query parameter set to `backend` (cpu, gpu or auto). */
export function withBackend(url, backend) {
  const address = new URL(url);
  address.searchParams.set('backend', backend);
  return address.toString();
}

export function byTestId(page, id) {
  return page.locator(`[data-testid="${id}"]`);
}

/** Waits until `predicate` returns a truthy value and returns it; polls every `intervalMs`. */
export async function pollUntil(predicate, { timeoutMs, intervalMs = 200, description }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Digit shapes as strokes: each stroke is a polyline of [x, y] points in fractions of the
 * canvas side (0..1, origin at the top left), drawn as one pointer-down, move, pointer-up.
 */
export const DIGIT_STROKES = {
  // A vertical bar.
  1: [
    [
      [0.5, 0.15],
      [0.5, 0.85],
    ],
  ],
  // An upright ellipse, closed with a small overlap as people draw it.
  0: [ellipse(0.5, 0.5, 0.22, 0.33, 400)],
  // A top bar and a long slanted downstroke in one stroke.
  7: [
    [
      [0.25, 0.2],
      [0.75, 0.2],
      [0.42, 0.85],
    ],
  ],
};

/** Points of an ellipse starting at its top and running clockwise through `degrees`. */
function ellipse(centerX, centerY, radiusX, radiusY, degrees) {
  const points = [];
  for (let angle = 0; angle <= degrees; angle += 5) {
    const radians = ((angle - 90) * Math.PI) / 180;
    points.push([centerX + radiusX * Math.cos(radians), centerY + radiusY * Math.sin(radians)]);
  }
  return points;
}

/** Fills a polyline in with points at most `spacing` apart (in the polyline's units). */
export function densify(polyline, spacing = 0.01) {
  const points = [polyline[0]];
  for (let index = 1; index < polyline.length; index++) {
    const [x0, y0] = polyline[index - 1];
    const [x1, y1] = polyline[index];
    const count = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / spacing));
    for (let step = 1; step <= count; step++) {
      points.push([x0 + ((x1 - x0) * step) / count, y0 + ((y1 - y0) * step) / count]);
    }
  }
  return points;
}

/** Converts canvas fractions to viewport CSS pixels for the canvas's current position. */
async function toViewport(canvas, strokes) {
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  if (!box) {
    throw new Error('draw-canvas has no bounding box: it is not rendered');
  }
  return strokes.map((stroke) =>
    densify(stroke).map(([x, y]) => [box.x + x * box.width, box.y + y * box.height]),
  );
}

/** Draws strokes with the mouse: one press, a move to every point, and a release per stroke. */
export async function drawWithMouse(page, strokes) {
  const canvas = byTestId(page, 'draw-canvas');
  for (const points of await toViewport(canvas, strokes)) {
    const [[startX, startY], ...rest] = points;
    await page.mouse.move(startX, startY);
    await page.mouse.down();
    for (const [x, y] of rest) {
      await page.mouse.move(x, y);
    }
    await page.mouse.up();
  }
}

/**
 * Draws strokes with one finger through the DevTools protocol's Input.dispatchTouchEvent, so
 * the page receives pointer events with pointerType "touch". The page's browser context must
 * be created with `hasTouch: true`.
 */
export async function drawWithTouch(page, strokes) {
  const canvas = byTestId(page, 'draw-canvas');
  const session = await page.context().newCDPSession(page);
  try {
    for (const points of await toViewport(canvas, strokes)) {
      const [[startX, startY], ...rest] = points;
      await session.send('Input.dispatchTouchEvent', {
        type: 'touchStart',
        touchPoints: [{ x: startX, y: startY }],
      });
      for (const [x, y] of rest) {
        await session.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y }] });
      }
      await session.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    }
  } finally {
    await session.detach();
  }
}

/** Reads the prediction text, its latency attribute and the probability bars. */
export async function readPrediction(page) {
  return page.evaluate(() => {
    const prediction = document.querySelector('[data-testid="prediction"]');
    const bars = [...document.querySelectorAll('.bars .bar-value')].map((bar) => bar.textContent);
    return {
      text: prediction?.textContent.trim() ?? null,
      latencyMs: prediction?.getAttribute('data-latency-ms') ?? null,
      probabilities: bars.map((value, digit) => `${digit}: ${value}`).join(', '),
    };
  });
}

/**
 * Waits until the prediction stops changing (two reads `settleMs` apart agree on the text and
 * the latency attribute, which changes with every classification) and returns it. With
 * `expectText: true` it also waits for a non-empty text, because the first classification
 * waits for the classifier to load.
 */
export async function settledPrediction(page, { expectText, timeoutMs = 20_000, settleMs = 250 }) {
  let previous = await readPrediction(page);
  return pollUntil(
    async () => {
      const current = await readPrediction(page);
      const stable = current.text === previous.text && current.latencyMs === previous.latencyMs;
      previous = current;
      const ready = expectText ? current.text !== '' : true;
      return stable && ready ? current : null;
    },
    { timeoutMs, intervalMs: settleMs, description: 'the prediction to settle' },
  );
}

/** Returns a canvas's pixels as a PNG data URL. */
export function canvasDataUrl(page, testId) {
  return byTestId(page, testId).evaluate((canvas) => canvas.toDataURL('image/png'));
}

export async function readStepCount(page) {
  const text = await byTestId(page, 'step-count').textContent();
  return Number.parseInt(text.trim(), 10);
}

/** Reads the GAN lab's numbers as the page shows them. */
export async function readLabStats(page) {
  return page.evaluate(() => {
    const read = (id) => document.querySelector(`[data-testid="${id}"]`);
    return {
      steps: Number.parseInt(read('step-count')?.textContent.trim() ?? '', 10),
      stepsPerSecond: read('steps-per-second')?.textContent.trim() ?? null,
      firstStep: read('first-step')?.textContent.trim() ?? null,
      workerMemory: read('worker-memory')?.textContent.trim() ?? null,
      lossPoints: Number.parseInt(read('loss-chart')?.getAttribute('data-points') ?? '', 10),
      gridStep: read('sample-grid')?.getAttribute('data-step') ?? null,
      backend: read('backend')?.textContent.trim() ?? null,
      backendKind: read('backend')?.getAttribute('data-kind') ?? null,
      error: read('error')?.textContent.trim() ?? null,
    };
  });
}

/**
 * Waits until the Train button is enabled, which happens once the worker has prepared a run.
 * Throws with the banner's text as soon as the page shows its error banner.
 */
export async function waitForTrainingReady(page, timeoutMs) {
  const state = await pollUntil(
    () =>
      page.evaluate(() => {
        const error = document.querySelector('[data-testid="error"]');
        if (error) {
          return { error: error.textContent.trim() };
        }
        const button = document.querySelector('[data-testid="train-toggle"]');
        return button && !button.disabled ? { ready: true } : null;
      }),
    { timeoutMs, intervalMs: 250, description: 'train-toggle to be enabled' },
  );
  if (state.error !== undefined) {
    throw new Error(`the page shows an error before training is ready: ${state.error}`);
  }
}
