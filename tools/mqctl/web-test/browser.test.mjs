// tools.console.browser: Debian's chromium, headless, against a running `mqctl serve`.
// Usage: node browser.test.mjs URL TOKEN SCREENSHOT EXPECT_JSON
// EXPECT_JSON: {"topic": name, "messages": n, "group": name, "lag": n, "dlq_group": name}
// Checks that the page shows the topics and lag the test produced, replays the one dead
// letter with its button, and sees the page show it gone and the topic grown by one.
import { chromium } from 'playwright-core';

const [url, token, screenshot, expectText] = process.argv.slice(2);
const expect = JSON.parse(expectText);
const timeout = 30_000;

function fail(message) {
  console.error('FAIL: ' + message);
  process.exitCode = 1;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url, { waitUntil: 'load' });

  const topicMessages = page.locator(`#topics tr[data-topic="${expect.topic}"] td[data-field="messages"]`);
  await topicMessages.filter({ hasText: new RegExp(`^${expect.messages}$`) }).waitFor({ timeout });
  console.log(`page shows topic ${expect.topic} with ${expect.messages} messages`);

  const lag = page.locator(`.group[data-group="${expect.group}"] [data-field="total-lag"]`);
  await lag.filter({ hasText: new RegExp(`^${expect.lag}$`) }).waitFor({ timeout });
  console.log(`page shows group ${expect.group} with lag ${expect.lag}`);

  const letters = page.locator(`.dlq[data-group="${expect.dlq_group}"] tr[data-id]`);
  await letters.first().waitFor({ timeout });
  const count = await letters.count();
  if (count !== 1) fail(`expected 1 dead letter row, saw ${count}`);
  const id = await letters.first().getAttribute('data-id');
  console.log(`page shows dead letter ${id} of ${expect.dlq_group}`);

  // Without the token the button is refused and nothing changes.
  await letters.first().locator('button.replay').click();
  await page.locator('#notice.error').waitFor({ timeout });

  await page.fill('#token', token);
  await page.click('#token-form button');
  await letters.first().locator('button.replay').click();
  await page.locator('#notice', { hasText: 'replayed 1' }).waitFor({ timeout });
  await page.locator('#no-dead-letters').waitFor({ timeout });
  await topicMessages.filter({ hasText: new RegExp(`^${expect.messages + 1}$`) }).waitFor({ timeout });
  console.log(`after replay: no dead letters, topic ${expect.topic} has ${expect.messages + 1} messages`);

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
  if (errors.length) fail('page errors: ' + errors.join('; '));
} catch (error) {
  fail(error.message);
} finally {
  await browser.close();
}
