// The web console in a real browser against the real demo: a local broker, registry and processor started by
// `java -jar target/slm-classifier.jar demo`, sentences typed at its prompt through stdin, Debian's Chromium driven
// by playwright-core. The feedback topic is read back by a Kafka consumer of its own, not through the console.
//
// Needs target/slm-classifier.jar and devkit/target/test-classes (mvn verify), /usr/bin/chromium and `npm ci` here.
// Screenshots and the demos' logs go to target/console-screenshots/.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = join(root, 'target', 'console-screenshots');
const TOKEN = 'console-test-' + Math.random().toString(36).slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Offline, as the Java tests run: the demo's tiny model is written into a cache under target/, nothing is fetched.
const javaEnv = { ...process.env, OPT_OUT_TRACKING: 'true', DJL_OFFLINE: 'true', HF_HUB_OFFLINE: '1',
  HF_HOME: join(root, 'target', 'console-hf-home') };

let context;
let profile;
let demo;
let page;

/** One run of `demo`, its stdin for typing, its stdout for the prompt's answers and the addresses it prints. */
class Demo {
  constructor(args, logName) {
    this.output = '';
    this.process = spawn('java', ['-jar', join(root, 'target', 'slm-classifier.jar'), 'demo', '--model', 'demo-tiny',
      '--device', 'cpu', ...args], { cwd: root, env: javaEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    this.process.stdout.on('data', (chunk) => { this.output += chunk.toString(); });
    // The demo logs to stderr: kept with the screenshots, for when a run fails.
    this.process.stderr.pipe(createWriteStream(join(shots, logName)));
    this.exited = new Promise((r) => this.process.once('exit', r));
  }

  async started() {
    await this.until(() => /Type a sentence/.test(this.output), 180_000, 'the prompt');
    this.bootstrap = this.output.match(/bootstrap servers\s+(\S+)/)[1];
    this.registry = this.output.match(/schema registry\s+(\S+)/)[1];
    this.console = this.output.match(/web console\s+(http:\/\/\S+)/)[1];
    return this;
  }

  async until(condition, timeoutMs, what) {
    const started = Date.now();
    while (!condition()) {
      if (this.process.exitCode !== null || Date.now() - started > timeoutMs) {
        throw new Error('the demo did not show ' + what + ' (exit ' + this.process.exitCode + '):\n' + this.output);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  answers() {
    return (this.output.match(/adapter \S+, \d+ ms\n/g) || []).length;
  }

  /** Types one sentence at the prompt and waits for the demo to print its classification. */
  async type(sentence) {
    const before = this.answers();
    this.process.stdin.write(sentence + '\n');
    await this.until(() => this.answers() > before, 60_000, 'an answer to "' + sentence + '"');
  }

  /** /quit stops the demo cleanly, broker included; a signal to its pid if it does not. */
  async stop() {
    if (this.process.exitCode !== null) return;
    this.process.stdin.write('/quit\n');
    this.process.stdin.end();
    const timer = setTimeout(() => {
      if (this.process.exitCode === null) process.kill(this.process.pid, 'SIGTERM');
    }, 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The feedback topic, read from its beginning by a consumer of its own. */
async function feedbackRecords() {
  const { stdout } = await promisify(execFile)('java', ['-cp',
    join(root, 'target', 'slm-classifier.jar') + ':' + join(root, 'devkit', 'target', 'test-classes'),
    'io.slmclassifier.console.ReadFeedbackTopic', demo.bootstrap, demo.registry, 'intents.feedback', '20'],
  { env: javaEnv, timeout: 60_000 });
  return stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

function liveRow(text) {
  return page.locator('#live-rows tr', { has: page.locator('td.text', { hasText: text }) });
}

function reviewItem(text) {
  return page.locator('#review-list li', { has: page.locator('.text', { hasText: text }) });
}

async function openConsole() {
  page = await context.newPage();
  page.on('dialog', (dialog) => { page.dialogSeen = dialog.message(); dialog.dismiss(); });
  await page.goto(demo.console);
  await page.locator('#connection', { hasText: 'live' }).waitFor({ timeout: 15_000 });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  if (demo) await demo.stop();
  if (context) await context.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('a console with a token', () => {
  before(async () => {
    demo = await new Demo(['--console-port', '0', '--console-token', TOKEN], 'demo.log').started();
    await openConsole();
  });

  after(async () => {
    await page.close();
    await demo.stop();
  });

  test('a typed sentence appears in the live view with its classification', async () => {
    const sentence = 'RobLW an Zugführer, kommen.';
    await demo.type(sentence);
    const row = liveRow(sentence);
    await row.waitFor({ timeout: 15_000 });
    const label = (await row.locator('td.label').textContent()).trim();
    assert.match(demo.output, new RegExp('^> ?' + label + ' ', 'm'), 'the page shows the label the demo printed');
    assert.match(await row.locator('.probs').textContent(), /disconfirm \d\.\d\d .*confirm \d\.\d\d/);
    assert.equal((await row.locator('td').nth(4).textContent()).trim(), 'base');
    await reviewItem(sentence).waitFor();
    await page.locator('#tile-total', { hasText: /^[1-9]/ }).waitFor();
    await page.screenshot({ path: join(shots, 'live.png'), fullPage: true });
  });

  test('without the token a label is refused and nothing is written', async () => {
    const sentence = 'Ist negativ, noch nicht.';
    await demo.type(sentence);
    const item = reviewItem(sentence);
    await item.waitFor({ timeout: 15_000 });
    await item.locator('button[data-label="confirm"]').click();
    await page.locator('#toast', { hasText: /Label refused: 401/ }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'refused.png'), fullPage: true });

    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-save');
    await item.locator('button[data-label="confirm"]').click();
    await page.locator('#toast', { hasText: /Label refused: 401: wrong console token/ }).waitFor({ timeout: 10_000 });
    await page.click('#token-forget');

    assert.equal(await item.count(), 1, 'the message is still waiting for review');
    assert.deepEqual(await feedbackRecords(), [], 'no feedback record was written');
  });

  test('a label picked with a number key lands on intents.feedback', async () => {
    const sentence = 'Ist negativ, noch nicht.';
    await page.fill('#token-input', TOKEN);
    await page.click('#token-save');
    await page.locator('#token-state', { hasText: 'token set' }).waitFor();
    const item = reviewItem(sentence);
    await item.locator('.text').click(); // select it; the number keys label the selected message
    await item.and(page.locator('.selected')).waitFor();
    const predicted = (await item.locator('.meta').textContent()).match(/predicted (\S+),/)[1];
    // Key 5 is the fifth label of the task: radr-intents lists call fifth.
    assert.equal((await item.locator('button').nth(4).getAttribute('data-label')), 'call');
    await page.keyboard.press('5');
    await page.locator('#toast', { hasText: /Label "call" sent to intents.feedback/ }).waitFor({ timeout: 15_000 });
    await item.waitFor({ state: 'detached', timeout: 5_000 });
    await liveRow(sentence).and(page.locator('.labeled')).waitFor();

    const records = await feedbackRecords();
    assert.equal(records.length, 1, JSON.stringify(records));
    const example = records[0];
    assert.equal(example.text, sentence);
    assert.equal(example.label, 'call');
    assert.equal(example.source, 'console');
    assert.equal(example.predicted_label, predicted);
    assert.equal(example.adapter_version, null);
    assert.equal(example.key, example.id);
    assert.equal(example.id, await liveRow(sentence).getAttribute('data-id'), 'the id of the classification');
    assert.ok(Math.abs(Date.now() - example.labeled_at) < 120_000);
    await page.locator('#tile-pending', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'labeled.png'), fullPage: true });
  });

  test('markup in a message is shown as text and never runs', async () => {
    const scriptText = '<script>window.__injected = 1</script> Zugführer kommen';
    const imageText = '<img src=x onerror="window.__injected = 2"> Stellwerk kommen';
    await demo.type(scriptText);
    await demo.type(imageText);
    for (const text of [scriptText, imageText]) {
      await liveRow(text).waitFor({ timeout: 15_000 });
      assert.equal(await liveRow(text).locator('td.text').evaluate((td) => td.firstChild.textContent), text);
      await reviewItem(text).waitFor({ timeout: 15_000 });
      await page.getByText(text, { exact: true }).first().waitFor();
    }
    assert.equal(await page.evaluate(() => window.__injected), undefined, 'no injected code ran');
    assert.equal(await page.locator('main img, main script').count(), 0, 'no element was made from the messages');
    assert.equal(page.dialogSeen, undefined);
    await page.screenshot({ path: join(shots, 'escaped.png'), fullPage: true });
  });

  test('at 420 px wide the token field and its buttons fit the screen', async () => {
    await page.setViewportSize({ width: 420, height: 900 });
    try {
      await page.locator('#token-form').waitFor();
      const box = await page.locator('#token-input').boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 420, 'the token field inside the screen: ' + JSON.stringify(box));
      assert.ok(box.width >= 100, 'wide enough to type in: ' + box.width + ' px');
      for (const button of ['#token-save', '#token-forget']) {
        const b = await page.locator(button).boundingBox();
        assert.ok(b.x >= 0 && b.x + b.width <= 420, button + ' inside the screen: ' + JSON.stringify(b));
      }
      const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scrollWidth <= 420, 'nothing wider than the screen: ' + scrollWidth + ' px');
      await page.screenshot({ path: join(shots, 'narrow-420.png'), fullPage: false });
    } finally {
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
  });

  test('the adapters panel follows the control topic: no version before any training', async () => {
    await page.locator('#adapters-table').waitFor();
    assert.equal(await page.locator('#adapters-none').isHidden(), true);
    assert.equal(await page.locator('#adapter-rows tr').count(), 0);
    for (const sentence of ['Frage: wo steht der Zug?', 'Verstanden, Ende.', 'Zugführer an RobLW, bitte kommen.']) {
      await demo.type(sentence);
    }
    await liveRow('Verstanden, Ende.').waitFor({ timeout: 15_000 });
    await page.waitForTimeout(1000); // one more update, so the chart has the last second
    await page.screenshot({ path: join(shots, 'console.png'), fullPage: false });
  });
});


describe('adapters trained from simulated feedback', () => {
  before(async () => {
    demo = await new Demo(['--console-port', '0', '--console-token', TOKEN, '--simulate', '--train-after', '60'],
      'demo-simulate.log').started();
    await openConsole();
  });

  after(async () => {
    await page.close();
    await demo.stop();
  });

  function adapterRow(version) {
    return page.locator('#adapter-rows tr[data-version="' + version + '"]');
  }

  /**
   * The labels tile counts from the newest version; when that one does not serve, its name says which does. Read
   * with the serving badge in one go, as both change with one update. Returns the tile's name.
   */
  async function pendingTileNamesWhatServes() {
    await page.locator('#tile-pending-name', { hasText: /^labels since v\d+/ }).waitFor({ timeout: 15_000 });
    const { name, serving } = await page.evaluate(() => ({
      name: document.getElementById('tile-pending-name').textContent,
      serving: document.getElementById('serving').textContent.replace('serving: ', ''),
    }));
    const since = name.match(/^labels since (v\d+)/)[1];
    if (since === serving) {
      assert.match(name, /^labels since v\d+, which serves \(\d+ from here\)$/);
    } else {
      assert.match(name, /^labels since v\d+ \([a-z ]+\); (v\d+|base) serves \(\d+ from here\)$/);
      assert.ok(name.includes('; ' + serving + ' serves'), name + ' names ' + serving);
    }
    return name;
  }

  test('a trained version appears serving, is rolled back with a click, then pinned', async () => {
    await adapterRow(1).locator('td', { hasText: /^serving$/ }).waitFor({ timeout: 180_000 });
    assert.match(await adapterRow(1).locator('td.metrics').textContent(), /^macro-F1 \d\.\d{3} .*accuracy \d\.\d{3}/);
    assert.equal(await adapterRow(1).locator('td.metrics details').getAttribute('open'), null, 'the rest folded away');
    const height = (await adapterRow(1).boundingBox()).height;
    assert.ok(height < 120, 'a row of the table, not a page of metrics: ' + height + ' px');
    // Labels that name colours are drawn in them (the simulation's task is red, blue, green).
    // Read in one go: the legend is redrawn as counts change, and a detached swatch has no computed colour.
    const swatches = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#legend li')]
      .map((li) => [li.textContent.trim().split(' ')[0], getComputedStyle(li.querySelector('.swatch')).backgroundColor])));
    assert.deepEqual(swatches, { red: 'rgb(192, 57, 43)', blue: 'rgb(47, 111, 222)', green: 'rgb(35, 137, 90)' });
    await page.fill('#token-input', TOKEN);
    await page.click('#token-save');
    await page.locator('#token-state', { hasText: 'token set' }).waitFor();
    await pendingTileNamesWhatServes();
    await page.screenshot({ path: join(shots, 'adapters.png'), fullPage: true });

    // The quality panel draws the serving version's published evaluation: three charts, each an SVG from the server.
    const quality = page.locator('#quality-versions .quality-version[data-role="serving"][data-version="1"]');
    await quality.waitFor({ timeout: 15_000 });
    assert.match(await quality.locator('h3').textContent(),
      /^Serving: v1 \(serving\), \d+ validation examples, (T = \d+\.\d\d|no temperature)$/);
    const drawn = await page.evaluate(() => Promise.all([...document.querySelectorAll(
      '#quality-versions .quality-version[data-role="serving"] img.plot')].map(async (img) => {
      await img.decode();
      return [img.dataset.kind, img.naturalWidth, img.naturalHeight];
    })));
    assert.deepEqual(drawn.map((d) => d[0]), ['reliability', 'coverage', 'confusion']);
    for (const [kind, width, height] of drawn) assert.ok(width >= 500 && height >= 400, kind + ': ' + width + 'x' + height);
    const reliability = await page.evaluate(() => fetch('api/plots/1/reliability.svg').then((r) => r.text()));
    assert.match(reliability, /Reliability diagram \(v1, \d+ validation examples\)/);
    await page.locator('#quality').scrollIntoViewIfNeeded();
    await page.locator('#quality').screenshot({ path: join(shots, 'quality.png') });

    await page.click('#rollback');
    await page.locator('#toast', { hasText: /Sent rollback/ }).waitFor({ timeout: 15_000 });
    await adapterRow(1).locator('td', { hasText: /^rolled back$/ }).waitFor({ timeout: 30_000 });
    await page.locator('#serving', { hasText: /base/ }).waitFor({ timeout: 30_000 });
    // v1 is the newest version and no longer serves: the tile says so, and names the base as what serves.
    assert.match(await pendingTileNamesWhatServes(), /; base serves \(/);
    await page.locator('.tiles').screenshot({ path: join(shots, 'tile-rolled-back.png') });

    await adapterRow(1).locator('button', { hasText: 'Pin' }).click();
    await page.locator('#toast', { hasText: /Sent pin v1/ }).waitFor({ timeout: 15_000 });
    await adapterRow(1).locator('td', { hasText: /^serving, pinned$/ }).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(shots, 'adapters-pinned.png'), fullPage: true });
  });

  test('the review queue lists the serving version first and marks what no longer serves', async () => {
    // v1 pinned serves; the base's results from before the training no longer do.
    await page.locator('#review-list li:not(.stale) .meta', { hasText: /adapter v1/ }).first()
      .waitFor({ timeout: 60_000 });
    // Read in one go: the list is redrawn with every update.
    const items = await page.evaluate(() => ({
      serving: document.getElementById('serving').textContent.replace('serving: ', ''),
      items: [...document.querySelectorAll('#review-list li')].map((li) => ({
        adapter: li.querySelector('.meta').textContent.match(/adapter (\S+?)(?: |$)/)[1],
        stale: li.classList.contains('stale'),
        meta: li.querySelector('.meta').textContent,
      })),
    }));
    assert.equal(items.serving, 'v1');
    for (const item of items.items) {
      assert.equal(item.stale, item.adapter !== items.serving, 'marked as no longer serving: ' + JSON.stringify(item));
      assert.equal(item.stale, / \(no longer serves\)$/.test(item.meta), JSON.stringify(item));
    }
    const firstStale = items.items.findIndex((i) => i.stale);
    assert.ok(firstStale === -1 || items.items.slice(firstStale).every((i) => i.stale),
      'the serving version first: ' + JSON.stringify(items.items.map((i) => i.adapter)));
    // From the top, so the sticky header does not cover the queue.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, 'review-by-version.png'), fullPage: false });
  });

  test('the live table and the review queue scroll in bounded regions, newest first; the panels below stay in reach', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#live-rows tr').length >= 40, null,
      { timeout: 120_000 });
    const layout = await page.evaluate(() => {
      const region = document.getElementById('live-scroll');
      const seqs = [...document.querySelectorAll('#live-rows tr')].map((tr) => Number(tr.dataset.seq));
      return {
        regionHeight: region.clientHeight,
        reviewHeight: document.getElementById('review-list').clientHeight,
        contentHeight: region.scrollHeight,
        seqs,
        adaptersTop: document.getElementById('adapters-title').getBoundingClientRect().top + window.scrollY,
      };
    });
    assert.ok(layout.regionHeight <= 500, 'the live region is bounded: ' + layout.regionHeight + ' px');
    assert.ok(layout.contentHeight > layout.regionHeight, 'and its rows scroll inside it');
    assert.ok(layout.reviewHeight <= 500, 'the review queue is bounded: ' + layout.reviewHeight + ' px');
    assert.deepEqual(layout.seqs, [...layout.seqs].sort((a, b) => b - a), 'newest first');
    assert.ok(layout.adaptersTop < 1500, 'the Adapters panel within reach: ' + layout.adaptersTop + ' px down');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, 'live-bounded.png'), fullPage: true });
  });
});


describe('a console without a token', () => {
  before(async () => {
    // Everything a random model says is unsure: every result abstains, and goes to review first.
    demo = await new Demo(['--console-port', '0', '--abstain-threshold', '0.99'], 'demo-read-only.log').started();
    await openConsole();
  });

  after(async () => {
    await page.close();
    await demo.stop();
  });

  test('is read-only: no token field, label buttons disabled, writes refused with 403', async () => {
    assert.match(demo.output, /web console\s+http:\S+\s+\(read-only/);
    const sentence = 'Nur lesen, kommen.';
    await demo.type(sentence);
    const item = reviewItem(sentence);
    await item.waitFor({ timeout: 15_000 });
    assert.match(await item.getAttribute('class'), /abstained/);
    assert.match(await item.locator('.meta').textContent(), /^set aside for review: predicted /);
    // Counted as abstained, in the figures and per label in the legend.
    await page.locator('#tile-abstained', { hasText: /^[1-9]\d*$/ }).waitFor({ timeout: 15_000 });
    assert.match(await page.locator('#legend').textContent(), /\(\d+ abstained\)/);
    await page.locator('#read-only').waitFor();
    assert.equal(await page.locator('#token-form').isHidden(), true);
    const buttons = item.locator('button');
    assert.ok(await buttons.count() > 0);
    for (const button of await buttons.all()) assert.equal(await button.isDisabled(), true);
    await page.keyboard.press('1');
    await page.waitForTimeout(500);
    assert.equal(await item.count(), 1, 'a number key labels nothing');

    const id = await liveRow(sentence).getAttribute('data-id');
    const statuses = await page.evaluate(async (body) => {
      const ask = (path, auth) => fetch(path, { method: 'POST', body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: 'Bearer ' + auth } : {}) } });
      return [(await ask('api/labels')).status, (await ask('api/labels', 'anything')).status,
        (await ask('api/adapters', 'anything')).status];
    }, { id, label: 'call', command: 'ROLLBACK' });
    assert.deepEqual(statuses, [403, 403, 403]);
    assert.deepEqual(await feedbackRecords(), []);
    await page.screenshot({ path: join(shots, 'read-only.png'), fullPage: true });
  });
});
