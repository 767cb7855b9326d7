// End-to-end test of the transfer lab in headless Chromium (playwright-core), run with node's
// built-in test runner: `GANVAS_URL=http://127.0.0.1:8080/ node tests/e2e/transfer.test.mjs`.
//
// On the CPU backend (`?backend=cpu`) it runs a classifier transfer at one label per class and
// checks the result, that a seed repeats its result, and the sweep's progress and Stop. It
// teaches three drawn classes of five examples and checks that new drawings are recognised.
// Then it starts few-shot GAN transfer and checks that the three settings show samples.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import {
  byTestId,
  drawWithMouse,
  launchBrowser,
  pollUntil,
  waitForTrainingReady,
  withBackend,
} from './page.mjs';

const PAGE_URL = withBackend(process.env.GANVAS_URL || 'http://127.0.0.1:8080/', 'cpu');
const SCREENSHOT_DIR = fileURLToPath(new URL('./screenshots/', import.meta.url));
const VIEWPORT = { width: 1280, height: 1000 };

// NOTE: limits are estimates with a wide margin. On a 2-core machine a one-label run of all
// three modes took about 30 s and teach-it training about 9 s.
const READY_TIMEOUT_MS = 300_000;
const RUN_TIMEOUT_MS = 300_000;

mkdirSync(SCREENSHOT_DIR, { recursive: true });

/**
 * Shapes that are not digits, as strokes in fractions of the canvas side. `jitter` varies each
 * drawing a little, as a hand would.
 */
const SHAPES = {
  cross: (jitter) => [
    [[0.25 + jitter, 0.25], [0.75, 0.75 - jitter]],
    [[0.75 - jitter, 0.25], [0.25, 0.75 + jitter]],
  ],
  ring: (jitter) => [
    Array.from({ length: 25 }, (_, i) => {
      const angle = (i / 24) * 2 * Math.PI;
      return [0.5 + (0.28 + jitter) * Math.cos(angle), 0.5 + 0.28 * Math.sin(angle)];
    }),
  ],
  triangle: (jitter) => [[[0.5, 0.2 + jitter], [0.8, 0.78], [0.2 + jitter, 0.78], [0.5, 0.2 + jitter]]],
};
const TRAINING_JITTERS = [-0.04, -0.02, 0, 0.02, 0.04];
const NEW_DRAWING_JITTER = 0.03;

const pageErrors = [];

/** Returns the rows of the results table as arrays of cell texts, header row excluded. */
function readTable(page) {
  return byTestId(page, 'transfer-table').evaluate((table) =>
    Array.from(table.querySelectorAll('tbody tr')).map((row) =>
      Array.from(row.children).map((cell) => cell.textContent.trim()),
    ),
  );
}

/** Waits until no transfer-lab job runs (its progress bar is gone). */
async function waitForJobEnd(page, testId, timeoutMs) {
  await pollUntil(async () => (await byTestId(page, testId).count()) === 0, {
    timeoutMs,
    description: `${testId} to disappear`,
  });
}

/** Runs one classifier transfer and returns the latest result's text. */
async function runTransfer(page, { budgetIndex, mode, seed }) {
  await byTestId(page, 'label-budget').selectOption(String(budgetIndex));
  await byTestId(page, 'transfer-mode').selectOption(mode);
  await byTestId(page, 'transfer-seed').fill(String(seed));
  await byTestId(page, 'transfer-seed').dispatchEvent('change');
  await byTestId(page, 'transfer-run').click();
  await pollUntil(async () => (await byTestId(page, 'transfer-progress').count()) > 0 || null, {
    timeoutMs: 10_000,
    description: 'the transfer progress bar',
  });
  await waitForJobEnd(page, 'transfer-progress', RUN_TIMEOUT_MS);
  return (await byTestId(page, 'transfer-accuracy').textContent()).trim();
}

let browser;
let page;

before(async () => {
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: VIEWPORT });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(PAGE_URL);
  await waitForTrainingReady(page, READY_TIMEOUT_MS);
});

after(async () => {
  await browser?.close();
});

describe('classifier transfer 0-4 to 5-9', () => {
  test('one label per class, three modes', async () => {
    const accuracy = await runTransfer(page, { budgetIndex: 0, mode: 'all', seed: 1 });
    assert.match(accuracy, /^\d{1,3}\.\d%$/);
    const rows = await readTable(page);
    assert.equal(rows.length, 1, `table rows: ${JSON.stringify(rows)}`);
    assert.equal(rows[0][0], '1');
    for (const cell of rows[0].slice(1)) {
      assert.match(cell, /^\d{1,3}\.\d%$/, `table row: ${JSON.stringify(rows[0])}`);
    }
    const points = await byTestId(page, 'transfer-chart').getAttribute('data-points');
    assert.equal(points, '3');
    const curves = await byTestId(page, 'transfer-curves').evaluate(
      (svg) => Array.from(svg.querySelectorAll('polyline')).filter((line) => line.getAttribute('points')).length,
    );
    assert.equal(curves, 3, 'one learning curve per mode');
    await page.screenshot({ path: `${SCREENSHOT_DIR}transfer-run.png`, fullPage: true });
  });

  test('a seed repeats its result', async () => {
    await byTestId(page, 'transfer-clear').click();
    const first = await runTransfer(page, { budgetIndex: 0, mode: 'mode-frozen', seed: 3 });
    const again = await runTransfer(page, { budgetIndex: 0, mode: 'mode-frozen', seed: 3 });
    assert.equal(again, first);
    const rows = await readTable(page);
    assert.equal(rows[0][2], first, 'a rerun of a seed replaces its result');
  });

  test('an invalid seed keeps the last one', async () => {
    const field = byTestId(page, 'transfer-seed');
    const before = await field.inputValue();
    for (const text of ['-5', '2.5', '99999999999999999999']) {
      await field.fill(text);
      await field.dispatchEvent('change');
      assert.equal(await field.inputValue(), before, `after typing ${text}`);
    }
  });

  test('sweep shows progress and stops', async () => {
    await byTestId(page, 'transfer-sweep').click();
    const activity = await pollUntil(
      async () => {
        const bar = byTestId(page, 'transfer-progress');
        if ((await bar.count()) === 0) {
          return null;
        }
        const text = await bar.textContent();
        return text.includes('left (estimate)') ? text : null;
      },
      { timeoutMs: 60_000, description: 'a time-left estimate' },
    );
    assert.match(activity, /step \d+ of \d+/);
    // The worker runs one job at a time, so the other sections wait and explain why.
    assert.equal(await byTestId(page, 'teach-train').isDisabled(), true);
    assert.equal(await byTestId(page, 'gan-transfer-run').isDisabled(), true);
    assert.ok((await byTestId(page, 'job-busy').count()) >= 2, 'the other sections explain the wait');
    await byTestId(page, 'job-stop').click();
    await waitForJobEnd(page, 'transfer-progress', 30_000);
    assert.equal(await byTestId(page, 'transfer-run').isDisabled(), false);
  });
});

describe('teach it', () => {
  test('a class without examples is named', async () => {
    await byTestId(page, 'teach-class-name').nth(0).fill('cross');
    await byTestId(page, 'teach-class-name').nth(1).fill('ring');
    await byTestId(page, 'teach-train').click();
    const message = await byTestId(page, 'teach-message').textContent();
    assert.match(message, /"cross" has no examples/);
  });

  test('deleting an example lowers the count', async () => {
    await drawWithMouse(page, SHAPES.cross(0));
    await page.waitForTimeout(300);
    await byTestId(page, 'teach-add-example').nth(0).click();
    const count = byTestId(page, 'teach-example-count').nth(0);
    assert.equal(await count.textContent(), '1 example');
    await byTestId(page, 'teach-delete-example').first().click();
    assert.equal(await count.textContent(), '0 examples');
  });

  test('three drawn classes are recognised', async () => {
    await byTestId(page, 'teach-add-class').click();
    const names = Object.keys(SHAPES);
    for (const [position, name] of names.entries()) {
      await byTestId(page, 'teach-class-name').nth(position).fill(name);
      for (const jitter of TRAINING_JITTERS) {
        await drawWithMouse(page, SHAPES[name](jitter));
        // The canvas preprocesses its drawing at the end of the stroke.
        await page.waitForTimeout(300);
        await byTestId(page, 'teach-add-example').nth(position).click();
      }
      assert.equal(await byTestId(page, 'teach-example-count').nth(position).textContent(), '5 examples');
    }
    await byTestId(page, 'teach-train').click();
    await pollUntil(async () => !(await byTestId(page, 'teach-status').isHidden()), {
      timeoutMs: RUN_TIMEOUT_MS,
      description: 'the teach-it model',
    });
    assert.match(await byTestId(page, 'teach-status').textContent(), /on 15 drawings/);
    for (const name of names) {
      await byTestId(page, 'clear-canvas').click();
      await drawWithMouse(page, SHAPES[name](NEW_DRAWING_JITTER));
      const predicted = await pollUntil(
        async () => {
          const text = (await byTestId(page, 'teach-prediction').textContent()).trim();
          return text === name ? text : null;
        },
        { timeoutMs: 5_000, intervalMs: 100, description: `"${name}" to be recognised` },
      ).catch(async (error) => {
        await page.screenshot({ path: `${SCREENSHOT_DIR}teach-${name}.png`, fullPage: true });
        const shown = await byTestId(page, 'teach-prediction').textContent();
        throw new Error(`${error.message}; the page says "${shown}"`);
      });
      assert.equal(predicted, name);
    }
    await page.screenshot({ path: `${SCREENSHOT_DIR}teach-it.png`, fullPage: true });
  });
});

describe('few-shot GAN transfer', () => {
  test('three settings show samples', async () => {
    await byTestId(page, 'gan-transfer-target').selectOption('digit-7');
    await byTestId(page, 'gan-transfer-samples').selectOption('10');
    await byTestId(page, 'gan-transfer-run').click();
    const grid = byTestId(page, 'gan-transfer-grid');
    await pollUntil(
      () =>
        grid.evaluate((element) =>
          Array.from(element.querySelectorAll('[data-setting]')).every(
            (row) => Number(row.getAttribute('data-step')) >= 10,
          ),
        ),
      { timeoutMs: RUN_TIMEOUT_MS, description: 'ten steps of every setting' },
    );
    const settings = await grid.evaluate((element) =>
      Array.from(element.querySelectorAll('[data-setting]')).map((row) => row.getAttribute('data-setting')),
    );
    assert.deepEqual(settings, ['FreezeD fine-tuning', 'full fine-tuning', 'from scratch']);
    const inked = await grid.evaluate((element) =>
      Array.from(element.querySelectorAll('canvas')).map((canvas) => {
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let dark = 0;
        for (let index = 0; index < data.length; index += 4) {
          dark += data[index] < 128 ? 1 : 0;
        }
        return dark;
      }),
    );
    for (const [index, dark] of inked.entries()) {
      assert.ok(dark > 0, `samples of ${settings[index]} are blank`);
    }
    await page.screenshot({ path: `${SCREENSHOT_DIR}few-shot-gan.png`, fullPage: true });
    await byTestId(page, 'job-stop').click();
    await waitForJobEnd(page, 'gan-transfer-progress', 30_000);
  });
});

test('no error banner and no page errors', async () => {
  const banner = byTestId(page, 'error');
  const text = (await banner.count()) ? await banner.textContent() : '';
  assert.equal(text, '', 'error banner');
  assert.deepEqual(pageErrors, []);
});
