// Measures the transfer lab of the built app in headless Chromium on the CPU backend and prints
// the figures. It times the whole 0-4 to 5-9 sweep and prints its table, times teach-it
// training, and runs few-shot GAN transfer to the end (time, each setting's final label
// accuracy, and a screenshot).
//
// Usage: node tests/e2e/bench-transfer.mjs [URL] [SCREENSHOT]
// URL defaults to http://127.0.0.1:8080/ (a server of dist/ must be running there); SCREENSHOT
// is where the few-shot GAN section's picture goes (default tests/e2e/screenshots/).

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { byTestId, drawWithMouse, launchBrowser, pollUntil, waitForTrainingReady, withBackend } from './page.mjs';

const url = withBackend(process.argv[2] || 'http://127.0.0.1:8080/', 'cpu');
const screenshot =
  process.argv[3] || fileURLToPath(new URL('./screenshots/few-shot-gan-bench.png', import.meta.url));
// NOTE: the limits are estimates; the sweep took about 10 minutes on a 2-core machine.
const SWEEP_TIMEOUT_MS = 3_600_000;
const GAN_TIMEOUT_MS = 1_800_000;

function seconds(since) {
  return ((Date.now() - since) / 1000).toFixed(1);
}

async function waitForJobEnd(page, testId, timeoutMs) {
  await pollUntil(async () => (await byTestId(page, testId).count()) === 0, {
    timeoutMs,
    intervalMs: 1000,
    description: `${testId} to disappear`,
  });
}

const browser = await launchBrowser();
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
page.on('pageerror', (error) => console.log(`page error: ${error.message}`));
await page.goto(url);
await waitForTrainingReady(page, 600_000);
console.log(`page: ${url}`);

// The whole sweep, seed 1.
let started = Date.now();
await byTestId(page, 'transfer-sweep').click();
await pollUntil(async () => (await byTestId(page, 'transfer-progress').count()) > 0 || null, {
  timeoutMs: 10_000,
  description: 'the sweep to start',
});
await waitForJobEnd(page, 'transfer-progress', SWEEP_TIMEOUT_MS);
console.log(`sweep (6 budgets x 3 modes, seed 1): ${seconds(started)} s`);
console.log(await byTestId(page, 'transfer-table').innerText());

// Teach-it: two classes of three drawings each.
const shapes = [
  [[[0.25, 0.25], [0.75, 0.75]], [[0.75, 0.25], [0.25, 0.75]]],
  [[[0.5, 0.2], [0.8, 0.78], [0.2, 0.78], [0.5, 0.2]]],
];
for (const [position, strokes] of shapes.entries()) {
  for (let example = 0; example < 3; example++) {
    await drawWithMouse(page, strokes);
    await page.waitForTimeout(300);
    await byTestId(page, 'teach-add-example').nth(position).click();
  }
}
started = Date.now();
await byTestId(page, 'teach-train').click();
await pollUntil(async () => !(await byTestId(page, 'teach-status').isHidden()), {
  timeoutMs: 600_000,
  description: 'the teach-it model',
});
console.log(`teach-it, 2 classes x 3 drawings, 150 steps on the CPU: ${seconds(started)} s`);

// Few-shot GAN transfer to the digit 7 from 20 samples, all 300 steps of each setting.
await byTestId(page, 'gan-transfer-target').selectOption('digit-7');
await byTestId(page, 'gan-transfer-samples').selectOption('20');
started = Date.now();
await byTestId(page, 'gan-transfer-run').click();
await pollUntil(async () => (await byTestId(page, 'gan-transfer-progress').count()) > 0 || null, {
  timeoutMs: 10_000,
  description: 'the GAN run to start',
});
await waitForJobEnd(page, 'gan-transfer-progress', GAN_TIMEOUT_MS);
console.log(`few-shot GAN, digit 7 from 20 samples, 3 x 300 steps: ${seconds(started)} s`);
console.log(await byTestId(page, 'gan-transfer-grid').innerText());
mkdirSync(dirname(screenshot), { recursive: true });
await page.locator('#few-shot-title').locator('..').screenshot({ path: screenshot });
console.log(`screenshot: ${screenshot}`);
await browser.close();
