// Time until a trace page is interactive in headless Chromium: from navigation start to the
// page's `body[data-ready]` mark. Env: AGENTTRACE_URL, TRACE_ID, SESSION (the session cookie's
// value), ROUNDS. Prints "MEDIAN ms (MIN / MAX ms)".
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../tests/browser/package.json'));
const { chromium } = require('playwright-core');

const base = process.env.AGENTTRACE_URL;
const rounds = Number(process.env.ROUNDS || 5);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
await context.addCookies([{ name: 'agenttrace_session', value: process.env.SESSION, url: base }]);
const times = [];
for (let i = 0; i < rounds + 1; i++) {
  const page = await context.newPage();
  await page.goto(`${base}/traces/${process.env.TRACE_ID}`, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
  const ms = await page.evaluate(() => performance.now());
  if (i > 0) times.push(ms); // the first load warms the cache
  await page.close();
}
await browser.close();
times.sort((a, b) => a - b);
const median = times[Math.floor((times.length - 1) / 2)];
console.log(`${median.toFixed(0)} ms (${times[0].toFixed(0)} / ${times[times.length - 1].toFixed(0)} ms)`);
