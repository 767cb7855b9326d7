import { launchBrowser, byTestId, DIGIT_STROKES, drawWithMouse, drawWithTouch, settledPrediction, canvasDataUrl } from './page.mjs';
import { writeFileSync } from 'node:fs';
const url = process.argv[2];
const browser = await launchBrowser();
for (const [mode, options] of [['mouse', { deviceScaleFactor: 1 }], ['touch', { deviceScaleFactor: 2, hasTouch: true }]]) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, ...options });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log('pageerror', e.message));
  await page.goto(url);
  for (const digit of Object.keys(DIGIT_STROKES)) {
    await byTestId(page, 'clear-canvas').click();
    const t0 = Date.now();
    if (mode === 'mouse') await drawWithMouse(page, DIGIT_STROKES[digit]); else await drawWithTouch(page, DIGIT_STROKES[digit]);
    const t1 = Date.now();
    const p = await settledPrediction(page, { expectText: true });
    console.log(mode, digit, 'draw ms', t1 - t0, p);
    const png = await canvasDataUrl(page, 'model-input');
    writeFileSync(`/tmp/helper/shots/${mode}-${digit}.png`, Buffer.from(png.split(',')[1], 'base64'));
    await page.screenshot({ path: `/tmp/helper/shots/${mode}-${digit}-page.png` });
  }
  await context.close();
}
await browser.close();
