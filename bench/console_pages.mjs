// The console's pages in headless Chromium (Debian's, driven by the playwright-core of
// tests/web), timed from navigation to the page drawn (its view in the DOM), run by
// console_bench against its sagad:
//   SAGAD_URL, SAGA_ID (a saga to open), REPEAT, WEB_MODULES (tests/web/node_modules)
// Prints one line per page with p50, p99 and max in milliseconds. Authentication is off.
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.WEB_MODULES}/`);
const { chromium } = require('playwright-core');
const url = process.env.SAGAD_URL;
const repeat = Number(process.env.REPEAT || 20);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.setDefaultTimeout(60000);
  // A first load, and the time it took until the overview was drawn.
  const loadStart = Date.now();
  await page.goto(`${url}/console/#/`);
  await page.waitForFunction(() => document.querySelector('#main > .view')?.dataset.route === '#/');
  console.log(`first load of the console to the overview drawn: ${Date.now() - loadStart} ms`);

  const pages = [
    ['overview', '#/?window=3600'],
    ['overview 24 h', '#/?window=86400'],
    ['saga list', '#/sagas'],
    ['list by state', '#/sagas?state=SAGA_STATE_COMPENSATED'],
    ['list by error text', '#/sagas?error=refunds'],
    ['list by label', '#/sagas?label=tenant%3Dacme'],
    ['saga page', `#/sagas/${process.env.SAGA_ID}`],
    ['definition page', '#/definitions/order'],
  ];
  console.log(`${'page (in Chromium)'.padEnd(22)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`);
  for (const [name, hash] of pages) {
    const ms = [];
    for (let i = 0; i <= repeat; i++) {
      // Leave the page, then time the navigation to it until its view is drawn.
      await page.evaluate(() => { location.hash = '#/definitions'; });
      await page.waitForFunction(() => document.querySelector('#main > .view')?.dataset.route === '#/definitions');
      const elapsed = await page.evaluate(async (h) => {
        const start = performance.now();
        location.hash = h;
        await new Promise((resolve) => {
          const check = () => (document.querySelector('#main > .view')?.dataset.route === h
            ? resolve() : requestAnimationFrame(check));
          check();
        });
        return performance.now() - start;
      }, hash);
      if (i > 0) ms.push(elapsed);  // the first one warms up
    }
    ms.sort((a, b) => a - b);
    const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
    console.log(`${name.padEnd(22)} ${at(0.5).toFixed(1).padStart(8)} ${at(0.99).toFixed(1).padStart(8)} ${ms.at(-1).toFixed(1).padStart(8)}`);
  }
} finally {
  await browser.close();
}
