// Benchmark of the Ganvas page in headless Chromium: GAN training speed, first-step time,
// canvas prediction latency and worker memory, for the CPU backend and then WebGPU, plus the
// size of the app's WebAssembly. It is not a test: it prints a table and fails only when the
// browser or page cannot be driven at all.
//
// Usage: node tests/e2e/bench.mjs [URL]   (URL defaults to http://127.0.0.1:8080/)
// Serve a release build first, for example:
//   source .ci/env && trunk build --release
//   python3 -m http.server --bind 127.0.0.1 --directory dist 8080
//
// Environment:
//   BENCH_BACKENDS     backends to measure, in order (default: cpu,gpu)
//   BENCH_CPU_MINUTES  time budget of the CPU backend in minutes, from page load (default: 15)
//   BENCH_GPU_MINUTES  time budget of the WebGPU backend in minutes, from page load (default: 10)
//   BENCH_AUTO_MINUTES time budget of `auto` (the page's own choice) when listed (default: 10)
//   GANVAS_DIST        folder whose ganvas_bg.wasm is measured (default: dist/ in this repository)
//
// When a budget runs out the table shows how far the backend got, never an extrapolation.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

import {
  DIGIT_STROKES,
  byTestId,
  drawWithMouse,
  launchBrowser,
  readLabStats,
  settledPrediction,
  waitForTrainingReady,
  withBackend,
} from './page.mjs';

const BASE_URL = process.argv[2] || 'http://127.0.0.1:8080/';
const BACKENDS = (process.env.BENCH_BACKENDS || 'cpu,gpu').split(',').map((name) => name.trim());
const BUDGET_MINUTES = {
  cpu: readMinutes('BENCH_CPU_MINUTES', 15),
  gpu: readMinutes('BENCH_GPU_MINUTES', 10),
  auto: readMinutes('BENCH_AUTO_MINUTES', 10),
};
for (const backend of BACKENDS) {
  if (!(backend in BUDGET_MINUTES)) {
    console.error(`bench: invalid backend "${backend}" in BENCH_BACKENDS; expected cpu, gpu or auto`);
    process.exit(2);
  }
}
const DIST_DIR = process.env.GANVAS_DIST || fileURLToPath(new URL('../../dist/', import.meta.url));

/** Steps run before the measured window starts, so compilation and first allocations are out. */
const WARMUP_STEPS = 10;
/** Steps at which worker memory is read. */
const MEMORY_CHECKPOINTS = [100, 1_000];
const PREDICTION_REPEATS = 10;
const POLL_MS = 500;
/** Steps between progress lines while training. */
const PROGRESS_EVERY = 100;

function readMinutes(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') {
    return fallback;
  }
  const minutes = Number(text);
  if (!(minutes > 0)) {
    console.error(`bench: invalid ${name} "${text}"; expected a positive number of minutes`);
    process.exit(2);
  }
  return minutes;
}

const numberFormat = new Intl.NumberFormat('en-US');

function formatSeconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

function formatMinutes(minutes) {
  return `${Number.isInteger(minutes) ? minutes : minutes.toFixed(1)} min`;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function measureWasm() {
  const path = `${DIST_DIR.replace(/\/?$/, '/')}ganvas_bg.wasm`;
  try {
    const bytes = readFileSync(path);
    return { path, raw: bytes.length, gzipped: gzipSync(bytes).length };
  } catch (error) {
    return { path, error: error.message };
  }
}

/** Draws a 7 `PREDICTION_REPEATS` times and collects the page's data-latency-ms readings. */
async function measurePredictionLatency(page) {
  const latencies = [];
  const predictions = new Set();
  for (let repeat = 0; repeat < PREDICTION_REPEATS; repeat++) {
    await byTestId(page, 'clear-canvas').click();
    await drawWithMouse(page, DIGIT_STROKES[7]);
    const prediction = await settledPrediction(page, { expectText: true });
    latencies.push(Number(prediction.latencyMs));
    predictions.add(prediction.text);
  }
  return { latencies, predictions: [...predictions] };
}

/**
 * Trains until the last memory checkpoint or the deadline, then pauses. On the way it records
 * the first-step time, the step count over wall time after the warm-up, and worker memory.
 */
async function measureTraining(page, deadline, result) {
  await byTestId(page, 'train-toggle').click();
  const trainStarted = Date.now();
  const memory = {};
  let warm = null;
  let last = null;
  let stats = await readLabStats(page);
  const finalStep = MEMORY_CHECKPOINTS[MEMORY_CHECKPOINTS.length - 1];
  let nextReport = PROGRESS_EVERY;

  while (Date.now() < deadline) {
    stats = await readLabStats(page);
    if (stats.error) {
      result.error = stats.error;
      break;
    }
    const now = Date.now();
    if (stats.firstStep && stats.firstStep !== '–') {
      result.firstStep = stats.firstStep;
    }
    if (!warm && stats.steps >= WARMUP_STEPS) {
      warm = { steps: stats.steps, time: now };
    }
    last = { steps: stats.steps, time: now, stepsPerSecond: stats.stepsPerSecond };
    for (const checkpoint of MEMORY_CHECKPOINTS) {
      if (!memory[checkpoint] && stats.steps >= checkpoint) {
        memory[checkpoint] = { value: stats.workerMemory, readAt: stats.steps };
      }
    }
    if (stats.steps >= nextReport) {
      const seconds = formatSeconds(now - trainStarted);
      console.log(`  ${result.backend}: step ${stats.steps} after ${seconds}, ${stats.stepsPerSecond} steps/s`);
      nextReport = (Math.floor(stats.steps / PROGRESS_EVERY) + 1) * PROGRESS_EVERY;
    }
    if (stats.steps >= finalStep) {
      break;
    }
    await page.waitForTimeout(POLL_MS);
  }

  await byTestId(page, 'train-toggle').click();
  result.trainingMs = Date.now() - trainStarted;
  result.steps = last?.steps ?? stats.steps;
  result.memory = memory;
  result.pageStepsPerSecond = last?.stepsPerSecond ?? null;
  if (warm && last && last.steps > warm.steps) {
    result.measured = {
      steps: last.steps - warm.steps,
      fromStep: warm.steps,
      toStep: last.steps,
      ms: last.time - warm.time,
    };
  }
}

async function measureBackend(browser, backend) {
  const budgetMinutes = BUDGET_MINUTES[backend];
  const started = Date.now();
  const deadline = started + budgetMinutes * 60_000;
  const result = { backend, budgetMinutes, pageErrors: [] };
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => result.pageErrors.push(error.message));

  try {
    await page.goto(withBackend(BASE_URL, backend));
    try {
      await waitForTrainingReady(page, Math.max(1, deadline - Date.now()));
      result.readyMs = Date.now() - started;
    } catch (error) {
      result.error = error.message;
    }
    // Measured while the worker is idle, because it shares the machine's cores with the page.
    result.prediction = await measurePredictionLatency(page);
    if (result.error) {
      return result;
    }
    const stats = await readLabStats(page);
    result.adapter = stats.backend;
    result.kind = stats.backendKind;
    await measureTraining(page, deadline, result);
  } finally {
    result.elapsedMs = Date.now() - started;
    await context.close();
  }
  return result;
}

function describeSpeed(result) {
  if (result.steps === undefined) {
    return 'not reached: training did not start';
  }
  if (!result.measured) {
    return `fewer than ${WARMUP_STEPS + 1} steps in ${formatMinutes(result.budgetMinutes)}`;
  }
  const { steps, fromStep, toStep, ms } = result.measured;
  const rate = steps / (ms / 1000);
  return `${rate.toFixed(2)} (steps ${fromStep}-${toStep} in ${formatSeconds(ms)})`;
}

function describeMemory(result, checkpoint) {
  const reading = result.memory?.[checkpoint];
  if (reading) {
    return reading.readAt === checkpoint ? reading.value : `${reading.value} (read at step ${reading.readAt})`;
  }
  if (result.steps === undefined) {
    return 'not reached: training did not start';
  }
  return (
    `${numberFormat.format(checkpoint)} steps not reached in ` +
    `${formatMinutes(result.budgetMinutes)}: at step ${numberFormat.format(result.steps)}`
  );
}

function describeLatency(result) {
  if (!result.prediction) {
    return 'not measured';
  }
  const { latencies, predictions } = result.prediction;
  const low = Math.min(...latencies).toFixed(1);
  const high = Math.max(...latencies).toFixed(1);
  return `${median(latencies).toFixed(1)} ms (min ${low}, max ${high}; read "${predictions.join('", "')}")`;
}

function rows(results) {
  const cell = (describe) => results.map((result) => describe(result));
  return [
    ['backend (data-kind: adapter)', cell((r) => (r.kind ? `${r.kind}: ${r.adapter}` : 'not reported'))],
    ['page load to Train enabled', cell((r) => (r.readyMs ? formatSeconds(r.readyMs) : 'not reached'))],
    ['first step (first-step)', cell((r) => r.firstStep ?? 'not reached')],
    ['steps/s (page, at end)', cell((r) => r.pageStepsPerSecond ?? 'not reached')],
    [`steps/s (step-count / wall, after ${WARMUP_STEPS})`, cell(describeSpeed)],
    [`prediction latency, median of ${PREDICTION_REPEATS}`, cell(describeLatency)],
    ...MEMORY_CHECKPOINTS.map((checkpoint) => [
      `worker memory at step ${numberFormat.format(checkpoint)}`,
      cell((r) => describeMemory(r, checkpoint)),
    ]),
    ['steps reached / budget', cell((r) => `${r.steps ?? 0} / ${formatMinutes(r.budgetMinutes)}`)],
    ['time used', cell((r) => formatSeconds(r.elapsedMs))],
  ];
}

function printTable(header, body) {
  const table = [header, ...body.map(([label, cells]) => [label, ...cells])];
  const widths = header.map((_, column) => Math.max(...table.map((row) => String(row[column]).length)));
  const line = (row) => row.map((value, column) => String(value).padEnd(widths[column])).join('  ').trimEnd();
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of table.slice(1)) {
    console.log(line(row));
  }
}

async function main() {
  const browser = await launchBrowser();
  const wasm = measureWasm();
  console.log(`Ganvas benchmark: ${BASE_URL}, Chromium ${browser.version()} headless, node ${process.version}`);
  if (wasm.error) {
    console.log(`wasm size: could not read ${wasm.path}: ${wasm.error}`);
  } else {
    console.log(
      `wasm size: ${numberFormat.format(wasm.raw)} bytes raw, ${numberFormat.format(wasm.gzipped)} bytes ` +
        `gzipped (zlib level 6), ${wasm.path}`,
    );
  }
  console.log("GAN batch: the page's default (GanTrainingConfig::batch_size in src/training.rs)");
  console.log('prediction latency: data-latency-ms, from reading the canvas to the probabilities');
  console.log('');

  const results = [];
  try {
    for (const backend of BACKENDS) {
      console.log(`measuring ${backend} (budget ${formatMinutes(BUDGET_MINUTES[backend])})...`);
      const result = await measureBackend(browser, backend);
      results.push(result);
      console.log(`${backend}: done in ${formatSeconds(result.elapsedMs)}, ${result.steps ?? 0} steps`);
    }
  } finally {
    await browser.close();
  }

  console.log('');
  printTable(['metric', ...results.map((result) => result.backend)], rows(results));
  for (const result of results) {
    if (result.error) {
      console.log(`${result.backend} error: ${result.error}`);
    }
    for (const message of result.pageErrors) {
      console.log(`${result.backend} page error: ${message}`);
    }
  }
}

await main();
