/**
 * The console in a real headless Chromium (Debian's chromium, driven by playwright-core), against
 * a real Paddock: the tree, an edit seen through a client, a client's write in the live feed, and a
 * concurrent edit reported as a conflict. Screenshots of each page go to test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, type ZooKeeperClient } from '../../src/client/index.js';
import type { PaddockProcess } from '../support/paddock.js';
import { skipUnless } from '../support/clients.js';
import { digestId } from '../../src/acl/index.js';
import { Perm } from '../../src/jute/constants.js';
import { startLoginConsole, startPaddockWithConsole } from './support.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
const WAIT_MS = 15_000;

function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `Chromium is not installed (${CHROMIUM} missing; apt-get install chromium)`;
}

describe('the web console in Chromium', { skip: skipUnless(chromiumMissing()) }, () => {
  let p: PaddockProcess & { base: string };
  let client: ZooKeeperClient;
  let browser: Browser;
  const pageErrors = new WeakMap<Page, string[]>();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    p = await startPaddockWithConsole();
    client = await connect(p.connectString);
    await seed(client);
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  after(async () => {
    await browser?.close();
    await client?.close();
    await p?.stop();
  });

  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(WAIT_MS);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    pageErrors.set(page, errors);
    await page.goto(`${p.base}/${hash}`);
    return page;
  }

  /** Closes a page; a script error in it fails the test that caused it rather than passing unseen. */
  async function done(page: Page): Promise<void> {
    const errors = pageErrors.get(page) ?? [];
    await page.close();
    assert.deepEqual(errors, [], 'script errors in the page');
  }

  async function shot(page: Page, name: string): Promise<void> {
    // No hover highlight in the picture.
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  test('loads the tree lazily and shows a node with its Stat and ACL', async () => {
    const page = await open('#/tree');
    await page.locator('[data-path="/app"]').click();
    await page.locator('[data-path="/app/config"]').click();
    await page.getByTestId('node-path').filter({ hasText: '/app/config' }).waitFor();
    assert.equal(await page.getByTestId('format').inputValue(), 'json');
    assert.match(await page.getByTestId('editor').inputValue(), /"replicas": 3/);
    assert.match(await page.getByTestId('acl').innerText(), /world\s+anyone\s+cdrwa/);
    assert.match(await page.getByTestId('stat').innerText(), /dataLength\s+\d+/);
    // The twisty opens a branch without selecting it.
    await page.locator('[data-path="/app/services"] .twisty').click();
    await page.locator('[data-path="/app/services/api-0000000001"]').waitFor();
    assert.equal(await page.getByTestId('node-path').innerText(), '/app/config');
    await shot(page, 'tree');
    await done(page);
  });

  test('pages a node with many children and filters them', async () => {
    const page = await open('#/tree?path=/many');
    await page.locator('[data-path="/many/item-00199"]').waitFor();
    assert.equal(await page.locator('[data-path^="/many/item-"]').count(), 200);
    await page.locator('[data-testid="load-more"]:visible').click();
    await page.locator('[data-path="/many/item-00399"]').waitFor();
    await page.getByTestId('filter').fill('item-0100');
    await page.locator('[data-path="/many/item-01009"]').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-path^="/many/item-"]').length === 10);
    await shot(page, 'tree-paged');
    await done(page);
  });

  test('an edit in the console is what a client then reads', async () => {
    const page = await open('#/tree?path=/app/flags');
    await page.getByTestId('version').filter({ hasText: 'version 0' }).waitFor();
    await page.getByTestId('editor').fill('dark-mode=on');
    await page.getByTestId('save').click();
    await page.getByTestId('version').filter({ hasText: 'version 1' }).waitFor();
    const { data, stat } = await client.getData('/app/flags');
    assert.equal(data.toString(), 'dark-mode=on');
    assert.equal(stat.version, 1);
    await shot(page, 'edit');
    await done(page);
  });

  test('a concurrent edit is reported as a conflict and overwrites nothing', async () => {
    const page = await open('#/tree?path=/app/limits');
    await page.getByTestId('version').filter({ hasText: 'version 0' }).waitFor();
    await client.setData('/app/limits', 'max=10 (set by a client)');
    await page.getByTestId('editor').fill('max=99');
    await page.getByTestId('save').click();
    const conflict = page.getByTestId('conflict');
    await conflict.waitFor();
    assert.match(await conflict.innerText(), /Conflict: .*\/app\/limits changed since it was read \(version 0; now 1\)/);
    assert.equal((await client.getData('/app/limits')).data.toString(), 'max=10 (set by a client)');
    await shot(page, 'conflict');
    await done(page);
  });

  test('a client\'s write appears in the live feed', async () => {
    const page = await open('#/feed?path=/app');
    await page.getByTestId('feed-status').filter({ hasText: 'watching /app' }).waitFor();
    await client.create('/app/services/api-', 'host-c:8080', { mode: 'ephemeralSequential' });
    await client.setData('/app/config', '{"replicas":4}');
    await page.locator('[data-testid="feed-events"] li[data-type="dataChanged"]', { hasText: '/app/config' }).waitFor();
    await page.locator('[data-testid="feed-events"] li[data-type="created"]', { hasText: '/app/services/api-' }).waitFor();
    await shot(page, 'feed');
    await done(page);
  });

  test('recursive delete asks first, naming how many nodes go', async () => {
    await client.create('/tmpjobs');
    for (let i = 0; i < 3; i++) await client.create(`/tmpjobs/j${i}`);
    const page = await open('#/tree?path=/tmpjobs');
    await page.getByTestId('delete').click();
    const dialog = page.getByTestId('confirm');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /Delete \/tmpjobs and all 3 nodes under it\?/);
    await shot(page, 'delete-confirm');
    await page.getByTestId('confirm-yes').click();
    await page.getByTestId('node-path').filter({ hasText: /^\/$/ }).waitFor();
    assert.equal(await client.exists('/tmpjobs'), null);
    await done(page);
  });

  test('sessions with their ephemerals, watches, and the server page with its charts', async () => {
    await client.getData('/app/config', { watch: () => undefined });
    const sessions = await open('#/sessions');
    await sessions.getByTestId('sessions').getByText('/app/services/api-0000000001').waitFor();
    await shot(sessions, 'sessions');
    await done(sessions);

    const watches = await open('#/watches');
    await watches.getByTestId('watches').getByText('/app/config').waitFor();
    await shot(watches, 'watches');
    await done(watches);

    const server = await open('#/server');
    await server.getByTestId('role').filter({ hasText: 'standalone' }).waitFor();
    await server.locator('[data-testid="chart-ops"] svg').waitFor();
    await shot(server, 'server');
    await done(server);
  });

  test('an exposed console shows a login form, and after login the user', async () => {
    const exposed = await startLoginConsole(p);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(WAIT_MS);
    try {
      await client.setACL('/', [
        { perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } },
        { perms: Perm.ALL, id: { scheme: 'digest', id: digestId('ops:pw') } },
      ]);
      await page.goto(`${exposed.base}/#/tree`);
      await page.getByTestId('login-user').fill('ops');
      await page.getByTestId('login-password').fill('pw');
      await shot(page, 'login');
      await page.getByTestId('login-submit').click();
      await page.getByTestId('user').filter({ hasText: 'ops' }).waitFor();
      await page.locator('[data-path="/app"]').waitFor();
    } finally {
      await done(page);
      await client.setACL('/', [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }]);
      await exposed.close();
    }
  });
});

/** A small, plausible tree: an app's config, flags, limits, registered services, and a wide node. */
async function seed(client: ZooKeeperClient): Promise<void> {
  await client.create('/app');
  await client.create('/app/config', JSON.stringify({ replicas: 3, region: 'eu-west', features: ['search', 'billing'] }));
  await client.create('/app/flags', 'dark-mode=off');
  await client.create('/app/limits', 'max=5');
  await client.create('/app/services');
  await client.create('/app/services/api-', 'host-a:8080', { mode: 'ephemeralSequential' });
  await client.create('/app/services/api-', 'host-b:8080', { mode: 'ephemeralSequential' });
  await client.create('/app/leader', Buffer.from([0x00, 0x01, 0xfe, 0xff]));
  await client.create('/many');
  const made: Promise<string>[] = [];
  for (let i = 0; i < 2000; i++) made.push(client.create(`/many/item-${String(i).padStart(5, '0')}`));
  await Promise.all(made);
}
