// The web console in a real headless Chromium (Debian's, driven by playwright-core) against a
// real sagad with real sagas, started by console_browser_test.cc, which passes:
//   SAGAD_URL        http://127.0.0.1:<http port>
//   ADMIN_TOKEN, VIEWER_TOKEN
//   EXPECTED         JSON: {"counts": {"SAGA_STATE_COMPLETED": n, ...}, "total": n,
//                           "quarantinedIds": [replay, retry, skip], "completedId": id,
//                           "parkedId": id, "reason": text}
//   SCREENSHOT_DIR   where the screenshots go
// It checks that the overview's counts are the API's and that a viewer sees no action button;
// then, as an admin, it replays the first quarantined saga's compensations from its page (dry run
// shown first, then confirmed with a reason), retries the second, skips the failed refund of the
// third, and requeues the parked message, each with a reason; console_browser_test.cc then
// checks the results through gRPC.
// Exits non-zero with the failed check on stderr.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const url = process.env.SAGAD_URL;
const expected = JSON.parse(process.env.EXPECTED);
expected.quarantinedId = expected.quarantinedIds[0];
const shots = process.env.SCREENSHOT_DIR;
mkdirSync(shots, { recursive: true });
const step = (what) => process.stderr.write(`[console_browser] ${what}\n`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // No sandbox as root; no background traffic to the closed network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
const errors = [];

async function signIn(token) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A refused call (401 before signing in) is logged by Chromium; the page shows it itself.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(`${url}/`);  // redirects to /console/
  await page.locator('form.login input#token').fill(token);
  await page.locator('form.login button[type=submit]').click();
  await page.locator('[data-testid=count][data-state=ALL]').waitFor();
  return page;
}

// Goes to the console page `hash` and waits until that page is drawn.
async function open(page, hash) {
  await page.goto(`${url}/console/${hash}`);
  await page.waitForFunction((h) => document.querySelector('#main > .view')?.dataset.route === h, hash);
}

async function cardValue(page, state) {
  const text = await page.locator(`[data-testid=count][data-state=${state}] .value`).innerText();
  return Number(text.replace(/,/g, ''));
}

try {
  // The viewer: the overview's counts are the API's, and no action anywhere.
  step('viewer signs in');
  const viewer = await signIn(process.env.VIEWER_TOKEN);
  assert.equal(await viewer.getByTestId('role').innerText(), 'viewer');
  assert.equal(await cardValue(viewer, 'ALL'), expected.total, 'the total of sagas');
  for (const [state, count] of Object.entries(expected.counts)) {
    assert.equal(await cardValue(viewer, state), count, `the count of ${state}`);
  }
  const byDefinition = viewer.getByTestId('by-definition');
  assert.match(await byDefinition.innerText(), /order/);
  assert.match(await viewer.getByTestId('quarantined').innerText(), new RegExp(expected.quarantinedId));
  await viewer.locator('.throughput .bar').first().waitFor();
  await viewer.screenshot({ path: join(shots, 'overview.png'), fullPage: true });
  step('overview matches the API; screenshot overview.png');

  await open(viewer, `#/sagas/${expected.quarantinedId}`);
  await viewer.getByTestId('timeline').waitFor();
  assert.match(await viewer.getByTestId('saga-state').innerText(), /quarantined/);
  assert.equal(await viewer.locator('[data-testid=actions], button[data-action]').count(), 0,
    'a viewer sees no action button on a quarantined saga');
  await open(viewer, `#/parked`);
  assert.match(await viewer.getByTestId('parked').innerText(), new RegExp(expected.parkedId));
  assert.equal(await viewer.locator('button[data-action]').count(), 0, 'no requeue for a viewer');
  step('the viewer sees no action button');

  // The saga list and its filters.
  await open(viewer, `#/sagas?state=SAGA_STATE_COMPENSATED`);
  await viewer.getByTestId('saga-list').waitFor();
  assert.equal(await viewer.locator('[data-testid=saga-list] tbody tr').count(),
    expected.counts.SAGA_STATE_COMPENSATED, 'the compensated sagas');
  await open(viewer, `#/sagas?error=refunds`);
  await viewer.getByTestId('saga-list').waitFor();
  assert.equal(await viewer.locator('[data-testid=saga-list] tbody tr').count(),
    expected.quarantinedIds.length, 'the error filter finds the quarantined sagas');
  await open(viewer, `#/sagas?size=5`);
  await viewer.getByTestId('saga-list').waitFor();
  const firstPage = await viewer.locator('[data-testid=saga-list] tbody tr').first().getAttribute('data-saga');
  await viewer.getByTestId('next-page').click();
  await viewer.waitForFunction((id) => {
    const row = document.querySelector('[data-testid=saga-list] tbody tr');
    return row && row.dataset.saga !== id;
  }, firstPage);
  await viewer.getByTestId('previous-page').click();
  await viewer.waitForFunction((id) => document.querySelector('[data-testid=saga-list] tbody tr')?.dataset.saga === id, firstPage);
  step('filters and pages work');

  // The definitions' graphs: the pivot marked, parallel steps side by side in one column.
  await open(viewer, `#/definitions/order`);
  assert.equal(await viewer.getByTestId('graph-step').count(), 3);
  await open(viewer, `#/definitions/checkout`);
  assert.equal(await viewer.getByTestId('graph-step').count(), 5);
  const node = (name) => viewer.locator(`[data-testid=graph-step][data-step=${name}]`);
  assert.equal(await node('charge').getAttribute('data-kind'), 'pivot');
  assert.equal(await node('ship').getAttribute('data-kind'), 'retriable');
  const x = async (name) => (await node(name).boundingBox()).x;
  const y = async (name) => (await node(name).boundingBox()).y;
  assert.equal(await x('reserve'), await x('fraud_check'), 'parallel steps share a column');
  assert.notEqual(await y('reserve'), await y('fraud_check'));
  assert.equal(await x('ship'), await x('notify'), 'parallel steps share a column');
  assert.ok(await x('reserve') < await x('charge') && await x('charge') < await x('ship'),
    'columns follow the dependencies');
  assert.match(await viewer.locator('.node.kind-pivot').textContent(), /pivot/);
  await viewer.screenshot({ path: join(shots, 'definition-graph.png') });

  // A completed saga's timeline: one successful action bar per step.
  await open(viewer, `#/sagas/${expected.completedId}`);
  await viewer.getByTestId('timeline').waitFor();
  assert.equal(await viewer.locator('[data-testid=segment][data-phase=action][data-outcome=ok]').count(), 3);
  assert.match(await viewer.locator('[data-testid=payload][data-step=reserve]').innerText(), /A-17/);

  // The admin replays the quarantined saga from its page.
  step('admin signs in');
  const admin = await signIn(process.env.ADMIN_TOKEN);
  assert.equal(await admin.getByTestId('role').innerText(), 'admin');
  await open(admin, `#/sagas/${expected.quarantinedId}`);
  await admin.getByTestId('timeline').waitFor();
  // The failed refunds are on the timeline.
  assert.ok(await admin.locator('[data-testid=segment][data-phase=compensation][data-outcome=failed]').count() >= 1);
  await admin.screenshot({ path: join(shots, 'saga-timeline-quarantined.png'), fullPage: true });
  step('screenshot saga-timeline-quarantined.png');
  await admin.locator('button[data-action=replay]').click();
  const dialog = admin.locator('dialog[open]');
  await dialog.getByTestId('confirm').click();  // without a reason: refused in the page
  await dialog.locator('.dialog-result .error').waitFor();
  await dialog.getByTestId('reason').fill(expected.reason);
  await dialog.getByTestId('confirm').click();  // the dry run
  await dialog.getByTestId('dry-run').waitFor();
  const plan = await dialog.locator('[data-testid=dry-run] li').allInnerTexts();
  assert.deepEqual(plan, ['charge', 'reserve'], 'the dry run lists the compensations to run');
  await admin.screenshot({ path: join(shots, 'replay-dry-run.png') });
  assert.match(await admin.getByTestId('saga-state').innerText(), /quarantined/, 'a dry run changes nothing');
  await dialog.getByTestId('confirm').click();  // Replay now
  await admin.locator('dialog[open]').waitFor({ state: 'detached' }).catch(() => {});
  await admin.waitForFunction(() => !document.querySelector('dialog').open);
  for (let i = 0; i < 50; i++) {
    if (/compensated/.test(await admin.getByTestId('saga-state').innerText())) break;
    await admin.waitForTimeout(200);
    await admin.locator('button:has-text("Refresh")').click();
    await admin.getByTestId('timeline').waitFor();
  }
  assert.match(await admin.getByTestId('saga-state').innerText(), /compensated/);
  assert.ok((await admin.getByTestId('history').innerText()).includes(expected.reason),
    'the history shows the reason typed in the page');
  await admin.screenshot({ path: join(shots, 'saga-timeline-replayed.png'), fullPage: true });
  step('replayed from the page; screenshot saga-timeline-replayed.png');

  // Retry, skip and requeue, each with its reason.
  async function act(sagaId, action, reason, prepare = async () => {}) {
    await open(admin, `#/sagas/${sagaId}`);
    await admin.locator(`button[data-action=${action}]`).click();
    const d = admin.locator('dialog[open]');
    await prepare(d);
    await d.getByTestId('reason').fill(reason);
    await d.getByTestId('confirm').click();
    await admin.waitForFunction(() => !document.querySelector('dialog').open);
    for (let i = 0; i < 50; i++) {
      if (/compensated/.test(await admin.getByTestId('saga-state').innerText())) break;
      await admin.waitForTimeout(200);
      await admin.locator('button:has-text("Refresh")').click();
    }
    assert.match(await admin.getByTestId('saga-state').innerText(), /compensated/, `${action} of ${sagaId}`);
    assert.ok((await admin.getByTestId('history').innerText()).includes(reason));
  }
  await act(expected.quarantinedIds[1], 'retry', `${expected.reason} (retry)`);
  step('retried from the page');
  await act(expected.quarantinedIds[2], 'skip', `${expected.reason} (refunded by hand)`,
    async (d) => { await d.getByTestId('skip-step').selectOption('charge'); });
  step('skipped a step from the page');

  await open(admin, '#/parked');
  await admin.locator(`input[type=checkbox][value="${expected.parkedId}"]`).check();
  await admin.locator('button[data-action=requeue]').click();
  const requeue = admin.locator('dialog[open]');
  await requeue.getByTestId('reason').fill(`${expected.reason} (limit raised)`);
  await requeue.getByTestId('confirm').click();
  await admin.waitForFunction(() => !document.querySelector('dialog').open);
  await admin.getByTestId('no-parked').waitFor();
  step('requeued the parked message from the page');

  assert.deepEqual(errors, [], 'no script error in the pages');
  step('passed');
} finally {
  await browser.close();
}
