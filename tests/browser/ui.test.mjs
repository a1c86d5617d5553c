// AgentTrace's web UI in a real browser: Debian's Chromium driven by playwright-core.
//
// Usage: AGENTTRACE_URL=http://127.0.0.1:PORT node ui.test.mjs   (a fresh server: the test
// creates the first account). Screenshots go to $SCREENSHOTS (default ./screenshots).
// `cargo test` runs this through crates/agenttrace/tests/browser, which starts the server.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const base = process.env.AGENTTRACE_URL;
assert.ok(base, 'set AGENTTRACE_URL to the server under test');
const shots = process.env.SCREENSHOTS || 'screenshots';
mkdirSync(shots, { recursive: true });
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const XSS_IMG = '<img src=x onerror=alert(1)>';
const XSS_SCRIPT = '</script><script>alert(1)</script>';
const EMAIL = 'first@example.com';
const PASSWORD = 'violet-harbour-kettle-42';

/** An agent run with nesting, a chat, a tool call, an error and hostile text. */
function agentRun(name, extraOutput = '') {
  const t0 = Date.parse('2026-12-01T10:00:00Z');
  const at = (ms) => new Date(t0 + ms).toISOString();
  return {
    name,
    tags: ['browser-test'],
    steps: [
      { id: 'agent', type: 'agent', name: 'planner', start_time: at(0), end_time: at(2500) },
      { id: 'note', parent_id: 'agent', type: 'thought', name: XSS_SCRIPT, start_time: at(5), end_time: at(6) },
      {
        id: 'llm-1', parent_id: 'agent', type: 'llm', name: 'chat gpt-4o-mini', model: 'gpt-4o-mini',
        start_time: at(10), end_time: at(800), usage: { input_tokens: 900, output_tokens: 120 }, cost: 0.0021,
        input: { messages: [
          { role: 'system', content: 'You are a weather agent.' },
          { role: 'user', content: `What is the weather in Paris? ${XSS_IMG}` },
        ] },
        output: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      },
      {
        id: 'tool-1', parent_id: 'agent', type: 'tool', name: 'get_weather', start_time: at(810), end_time: at(1610),
        input: { city: 'Paris', note: XSS_SCRIPT },
        error: { type: 'ConnectionError', message: 'API request failed: 404 Not Found', stack: 'Traceback (most recent call last):\n  File "agent.py", line 12\nConnectionError' },
      },
      { id: 'obs-1', parent_id: 'tool-1', type: 'observation', name: '404 from upstream', start_time: at(1600), end_time: at(1605), output: 'status 404' },
      {
        id: 'llm-2', parent_id: 'agent', type: 'llm', name: 'chat gpt-4o-mini', model: 'gpt-4o-mini',
        start_time: at(1700), end_time: at(2400), usage: { input_tokens: 300, output_tokens: 64 }, cost: 0.001,
        input: { messages: [{ role: 'user', content: 'Summarise' }] },
        output: `I could not reach the weather service.${extraOutput} token=ghp_Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8`,
      },
    ],
  };
}

const problems = [];
function watch(page, label) {
  page.on('console', (message) => {
    // The refused paste below is answered 422 on purpose; the browser logs every failed fetch.
    const expected = message.text().includes('status of 422') && message.location().url.includes('/api/v1/traces');
    if (message.type() === 'error' && !expected) problems.push(`${label}: console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${label}: page error: ${error.message}`));
  page.on('dialog', async (dialog) => {
    if (dialog.type() === 'confirm') {
      await dialog.accept();
    } else {
      problems.push(`${label}: unexpected ${dialog.type()} dialog: ${dialog.message()}`);
      await dialog.dismiss();
    }
  });
}

function checkClean(label) {
  const mine = problems.filter((p) => p.startsWith(`${label}:`));
  assert.deepEqual(mine, [], `${label} has console errors, CSP violations or dialogs`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    console.log(`FAIL ${name}`);
    throw error;
  }
}

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watch(page, 'app');
  let firstId;
  let secondId;

  await step('first run: create the admin account', async () => {
    await page.goto(base);
    assert.match(page.url(), /\/register$/);
    await shot(page, '01-first-run');
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    await page.waitForSelector('text=No traces yet');
    await shot(page, '02-traces-empty');
  });

  await step('upload a file', async () => {
    await page.goto(`${base}/upload`);
    const file = join(tmpdir(), `agent-run-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(agentRun(`weather agent ${XSS_IMG}`)));
    await page.setInputFiles('#file-input', file);
    const link = page.locator('.uploads li.done a').first();
    await link.waitFor();
    assert.equal(await link.textContent(), `weather agent ${XSS_IMG}`);
    const href = await link.getAttribute('href');
    firstId = decodeURIComponent(href.split('/').pop());
    await shot(page, '03-upload-done');
  });

  await step('upload by dropping a file on the drop zone', async () => {
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      const doc = { name: 'dropped run', steps: [{ id: 'a', type: 'llm', name: 'only step' }] };
      transfer.items.add(new File([JSON.stringify(doc)], 'dropped.json', { type: 'application/json' }));
      return transfer;
    });
    await page.dispatchEvent('#dropzone', 'dragover', { dataTransfer: dropped });
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dropped });
    const link = page.locator('.uploads li.done a', { hasText: 'dropped run' });
    await link.waitFor();
    // Deleted again from the list (select, Delete, confirm), so later steps see two runs.
    const id = decodeURIComponent((await link.getAttribute('href')).split('/').pop());
    await page.goto(base);
    const row = page.locator(`table.traces tbody tr[data-id="${id}"]`);
    await row.locator('input.pick').check();
    await page.click('#bulk-delete');
    await row.waitFor({ state: 'detached' });
    await page.reload();
    assert.equal(await page.locator(`table.traces tbody tr[data-id="${id}"]`).count(), 0);
    await page.goto(`${base}/upload`);
  });

  await step('upload pasted JSON, and see a bad paste explained', async () => {
    await page.click('#paste-box summary');
    await page.fill('#paste', '{"steps": [{"id": "a"}, {"id": "a"}]}');
    await page.click('#paste-upload');
    const failed = page.locator('.uploads li.failed').first();
    await failed.waitFor();
    assert.match(await failed.textContent(), /\/steps\/1/);
    await page.fill('#paste', JSON.stringify(agentRun('weather agent, second run', ' Retried once.')));
    await page.click('#paste-upload');
    const link = page.locator('.uploads li.done a', { hasText: 'second run' });
    await link.waitFor();
    secondId = decodeURIComponent((await link.getAttribute('href')).split('/').pop());
    await shot(page, '04-upload-paste');
  });

  await step('the trace list', async () => {
    await page.goto(base);
    await page.waitForSelector('table.traces');
    assert.equal(await page.locator('table.traces tbody tr').count(), 2);
    assert.ok((await page.locator('table.traces').textContent()).includes(XSS_IMG));
    await shot(page, '05-traces');
    checkClean('app');
  });

  await step('open a trace, select a step, see its input and output', async () => {
    await page.goto(`${base}/traces/${encodeURIComponent(firstId)}`);
    await page.waitForSelector('body[data-ready="1"]');
    assert.equal(await page.locator('#rows .row').count(), 6);
    // A step named `</script><script>…` shows that text and runs nothing.
    assert.ok((await page.locator('#rows .row[data-step-id="note"]').textContent()).includes(XSS_SCRIPT));
    await page.click('#rows .row[data-step-id="llm-1"]');
    await page.waitForSelector('#detail .detail-input');
    const detail = await page.locator('#detail').textContent();
    assert.ok(detail.includes('What is the weather in Paris?'), detail);
    assert.ok(detail.includes(XSS_IMG), 'the hostile text shows as text');
    assert.ok(detail.includes('get_weather'), 'the tool call shows');
    assert.equal(await page.locator('#detail img').count(), 0, 'no element was injected');
    await shot(page, '06-trace-llm-step');
    await page.click('#rows .row[data-step-id="tool-1"]');
    await page.waitForSelector('#detail .detail-error');
    const error = await page.locator('#detail .detail-error').textContent();
    assert.ok(error.includes('ConnectionError') && error.includes('404 Not Found'), error);
    assert.ok((await page.locator('#detail').textContent()).includes(XSS_SCRIPT));
    await shot(page, '07-trace-error-step');
    // A secret in an output was removed before storage and is shown as a marker.
    await page.click('#rows .row[data-step-id="llm-2"]');
    await page.waitForSelector('#detail .detail-output');
    const output = await page.locator('#detail .detail-output').textContent();
    assert.ok(!output.includes('ghp_Q1w2'), 'the secret never reached the page');
    assert.match(output, /redacted/i, output);
  });

  await step('keyboard: j/k move between steps', async () => {
    await page.click('#rows .row[data-step-id="agent"]');
    await page.focus('#rows');
    await page.keyboard.press('j');
    await page.waitForSelector('#rows .row.selected[data-step-id="note"]');
    await page.keyboard.press('j');
    await page.waitForSelector('#rows .row.selected[data-step-id="llm-1"]');
    await page.keyboard.press('k');
    await page.keyboard.press('k');
    await page.waitForSelector('#rows .row.selected[data-step-id="agent"]');
  });

  await step('filter to errors only', async () => {
    await page.click('button#errors-only');
    // Rows are recycled by the virtual list: what counts is what is shown.
    await page.waitForFunction(() => ![...document.querySelectorAll('#rows .row')]
      .some((r) => r.checkVisibility() && r.dataset.stepId === 'llm-2'));
    const visible = await page.evaluate(() => [...document.querySelectorAll('#rows .row')]
      .filter((r) => r.checkVisibility())
      .map((r) => r.dataset.stepId));
    assert.ok(visible.includes('tool-1'), visible.join());
    assert.ok(!visible.includes('llm-1') && !visible.includes('llm-2'), visible.join());
    await page.waitForURL(/errors=1/);
    await shot(page, '08-trace-errors-only');
    await page.click('button#errors-only');
  });

  await step('search within the trace: rows found, matches marked', async () => {
    await page.fill('input#step-search', 'paris');
    await page.waitForURL(/q=paris/);
    // The tool step's name does not say Paris; its input does (found by the server).
    await page.click('#rows .row[data-step-id="tool-1"]');
    await page.waitForSelector('#detail .detail-input mark.hit');
    assert.equal((await page.locator('#detail .detail-input mark.hit').first().textContent()).toLowerCase(), 'paris');
    await shot(page, '08b-trace-search');
    await page.fill('input#step-search', '');
  });

  await step('a deep link opens with its step selected', async () => {
    await page.goto(`${base}/traces/${encodeURIComponent(firstId)}?step=obs-1`);
    await page.waitForSelector('body[data-ready="1"]');
    await page.waitForSelector('#rows .row.selected[data-step-id="obs-1"]');
    await page.waitForSelector('#detail .detail-name');
    assert.equal((await page.locator('#detail .detail-name').textContent()).trim(), '404 from upstream');
    checkClean('app');
  });

  let shareUrl;
  await step('share a trace and open the link signed out', async () => {
    await page.goto(`${base}/traces/${encodeURIComponent(firstId)}`);
    await page.waitForSelector('body[data-ready="1"]');
    await page.click('#share-trace');
    const field = page.locator('input.share-url');
    await field.waitFor();
    shareUrl = await field.inputValue();
    assert.match(shareUrl, /\/share\/ats_/);
    const stranger = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const shared = await stranger.newPage();
    watch(shared, 'shared');
    await shared.goto(shareUrl);
    await shared.waitForSelector('body[data-ready="1"]');
    assert.ok((await shared.textContent('body')).includes('Read-only shared view'));
    assert.equal(await shared.locator('a[href="/settings"]').count(), 0);
    await shared.click('#rows .row[data-step-id="tool-1"]');
    await shared.waitForSelector('#detail .detail-input');
    assert.ok((await shared.locator('#detail').textContent()).includes('Paris'));
    await shot(shared, '09-shared-trace');
    checkClean('shared');
    await stranger.close();
  });

  await step('compare two runs', async () => {
    await page.goto(`${base}/compare?a=${encodeURIComponent(firstId)}&b=${encodeURIComponent(secondId)}`);
    await page.waitForLoadState('networkidle');
    const text = await page.textContent('main');
    assert.ok(text.includes('planner') && text.includes('get_weather'), text.slice(0, 500));
    assert.equal(await page.locator('.crow').count(), 6, 'the same six steps pair up');
    await page.click('.crow[data-b-step="llm-2"]');
    await page.waitForSelector('.cdiff pre.diff .add');
    const diff = await page.locator('.cdiff pre.diff').textContent();
    assert.ok(diff.includes('Retried once.'), diff);
    await shot(page, '10-compare');
    checkClean('app');
  });

  await step('the dashboard draws its charts', async () => {
    await page.goto(`${base}/dashboard`);
    await page.waitForLoadState('networkidle');
    assert.equal(await page.locator('main svg.chart').count(), 4, 'the four charts are drawn');
    await shot(page, '11-dashboard');
    checkClean('app');
  });

  await step('settings: create an API key, shown once', async () => {
    await page.goto(`${base}/settings`);
    await page.fill('.key-form input[name=name]', 'browser test key');
    await page.click('.key-form button[type=submit]');
    const key = page.locator('.new-key-value').first();
    await key.waitFor({ state: 'visible' });
    assert.match(await key.inputValue(), /^atk_/);
    await shot(page, '12-settings');
    checkClean('app');
  });

  await step('settings: revoke the share link', async () => {
    await page.goto(`${base}/settings`);
    const row = page.locator('#shares tr[data-share-id]');
    assert.equal(await row.count(), 1);
    await page.click('#shares button.share-revoke');
    await row.waitFor({ state: 'detached' });
    const gone = await page.request.get(shareUrl);
    assert.equal(gone.status(), 404);
    checkClean('app');
  });

  await step('dark theme and a narrow window', async () => {
    const dark = await browser.newContext({ viewport: { width: 420, height: 800 }, colorScheme: 'dark' });
    const narrow = await dark.newPage();
    watch(narrow, 'narrow');
    await narrow.goto(`${base}/login`);
    await narrow.fill('input[name=email]', EMAIL);
    await narrow.fill('input[name=password]', PASSWORD);
    await Promise.all([narrow.waitForURL(`${base}/`), narrow.click('button[type=submit]')]);
    await narrow.goto(`${base}/traces/${encodeURIComponent(firstId)}`);
    await narrow.waitForSelector('body[data-ready="1"]');
    await shot(narrow, '13-trace-dark-narrow');
    checkClean('narrow');
    await dark.close();
  });

  await step('sign out', async () => {
    await Promise.all([page.waitForURL(/\/login$/), page.click('form.signout button')]);
    await page.goto(base);
    assert.match(page.url(), /\/login$/);
  });

  checkClean('app');
  console.log(`all browser checks passed; screenshots in ${shots}`);
} finally {
  await browser.close();
}
