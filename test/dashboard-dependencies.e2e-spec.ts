// The dashboard's side of jobs that depend on jobs (issue 15), in a real browser as test/dashboard.e2e-spec.ts does
// it (Debian's headless Chromium through playwright-core, a dispatcher and an executor on SQLite as child
// processes): parents picked in the form with an empty cron, the graph and the lists on the job page, Run with
// children, the upstream and downstream runs of a run, and a cycle refused with the API's message.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Locator, Page, chromium } from 'playwright-core';
import {
  Api,
  Dispatcher,
  Job,
  Run,
  sqliteEnv,
  startDispatcher,
  startExecutor,
  TEST_ADMIN_TOKEN,
} from './support/gocron';
import { REPO_ROOT, stopAllApps } from './support/processes';
import { freePort } from './support/services';
import { waitFor } from './support/wait';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
const ONCE_A_YEAR = '0 0 1 1 *'; // jobs that run only when triggered

function shown(locator: Locator, timeout = 10_000): Promise<void> {
  return locator.waitFor({ state: 'visible', timeout });
}

describe('dashboard: dependencies', () => {
  let dispatcher: Dispatcher;
  let api: Api;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let extract: Job;
  let loadId = 0;

  async function job(id: number): Promise<Job> {
    return (await api.call<Job>('GET', `/api/jobs/${id}`, undefined, 200)).body;
  }

  beforeAll(async () => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'dashboard', 'index.html'))) {
      throw new Error('dist/dashboard/index.html is missing: run `npm run build` first');
    }
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/test-services.sh`);
    const env = await sqliteEnv('dashboard-deps');
    const executorPort = await freePort();
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'dispatcher-dash-deps',
    );
    await startExecutor({ ...env, GOCRON_EXECUTOR_CAPACITY: '4' }, 'executor-dash-deps', executorPort);
    api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 15_000,
      what: 'the executor is listed',
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'UTC' });
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${dispatcher.base}/#/jobs`);
    await shown(page.getByRole('heading', { name: 'Sign in' }));
    await page.getByRole('tab', { name: 'API token' }).click();
    await page.getByLabel('Token', { exact: true }).fill(TEST_ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await shown(page.getByRole('button', { name: 'Log out' }));

    extract = await api.createJob({ name: 'dep-extract', cron: ONCE_A_YEAR, type: 'shell', command: 'echo extracted' });
    await api.createJob({ name: 'dep-unrelated', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
  });

  afterAll(async () => {
    await browser?.close();
    await stopAllApps();
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  it('refuses a job with neither a schedule nor parents before asking the API', async () => {
    await page.goto(`${dispatcher.base}/#/jobs/new`);
    await shown(page.getByRole('heading', { name: 'New job' }));
    await page.getByLabel('Name', { exact: true }).fill('dep-nothing');
    await page.getByLabel('Command', { exact: true }).fill('true');
    await page.getByLabel('Cron expression').fill('');
    await shown(page.getByText('Required unless the job has parents (see Dependencies).'));
    await page.getByRole('button', { name: 'Create job' }).click();
    await shown(page.locator('#f-cron-error', { hasText: 'a job needs a schedule, parents, or both' }));
    expect(await page.evaluate('document.activeElement?.id')).toBe('f-cron');
    expect(page.url()).toContain('#/jobs/new');
  });

  it('creates a child with an empty cron by picking its parent in the form, from the keyboard', async () => {
    await page.goto(`${dispatcher.base}/#/jobs/new`);
    await shown(page.getByRole('heading', { name: 'New job' }));
    await page.getByLabel('Name', { exact: true }).fill('dep-load');
    await page.getByLabel('Command', { exact: true }).fill('echo "loaded after $GOCRON_PARENT_RUN_IDS"');
    const search = page.getByLabel('Add a parent');
    await search.fill('dep-ex');
    await shown(page.getByRole('button', { name: 'Add dep-extract as a parent' }));
    expect(await page.getByRole('button', { name: 'Add dep-unrelated as a parent' }).count()).toBe(0);
    await search.press('Enter'); // adds the first match; does not send the form
    const row = page.locator(`.parent-row[data-parent="${extract.id}"]`);
    await shown(row);
    expect(page.url()).toContain('#/jobs/new');
    await page.getByLabel('Condition for dep-extract').selectOption('success');
    await page.getByLabel('Cron expression').fill('');
    await shown(page.getByText('Optional: the job has parents, so leave it empty to run only after them.'));
    await shown(page.locator('#cron-preview', { hasText: 'No schedule: the job runs only after its parents.' }));
    await shown(page.getByLabel('With several parents, run'));
    await page.getByLabel('Occasion window', { exact: true }).fill('30');
    await page.getByLabel('Occasion window unit').selectOption('min');
    await page.getByRole('button', { name: 'Create job' }).click();

    await page.waitForURL(/#\/jobs\/\d+$/);
    loadId = Number(/#\/jobs\/(\d+)/.exec(page.url())?.[1]);
    expect(await job(loadId)).toMatchObject({
      name: 'dep-load',
      cron: '',
      dependsOn: [{ jobId: extract.id, on: 'success' }],
      dependencyMode: 'all',
      dependencyWindowMs: 1_800_000,
    });
    await shown(page.locator('.schedule', { hasText: 'No schedule' }));
  });

  it('draws the graph on the job page with the job highlighted, and lists its parents', async () => {
    await page.goto(`${dispatcher.base}/#/jobs/${loadId}`);
    const graph = page.locator('.dep-graph svg');
    await shown(graph);
    await shown(graph.locator(`.dep-node.current[data-node="${loadId}"]`));
    await shown(graph.locator(`a.dep-node[data-node="${extract.id}"]`));
    // A level edge has no height: Playwright counts it as hidden, so only its presence is asserted.
    await graph.locator(`.dep-edge[data-edge="${extract.id}-${loadId}"]`).waitFor({ state: 'attached' });
    await shown(graph.locator('.dep-label', { hasText: 'success' }));
    // The parent is left of the child.
    const parentBox = await graph.locator(`[data-node="${extract.id}"] rect`).boundingBox();
    const childBox = await graph.locator(`[data-node="${loadId}"] rect`).boundingBox();
    expect(parentBox && childBox && parentBox.x + parentBox.width < childBox.x).toBe(true);
    await shown(page.locator('.dep-parents').getByRole('link', { name: 'dep-extract' }));
    // No children: no Run with children here.
    expect(await page.getByRole('button', { name: 'Run with children' }).count()).toBe(0);

    await graph.locator(`a.dep-node[data-node="${extract.id}"]`).click();
    await page.waitForURL(new RegExp(`#/jobs/${extract.id}$`));
    await shown(page.locator('.dep-children').getByRole('link', { name: 'dep-load' }));
  });

  it('runs a parent with its children, and links each run to its upstream and downstream runs', async () => {
    await page.goto(`${dispatcher.base}/#/jobs/${extract.id}`);
    await page.getByRole('button', { name: 'Run with children' }).click();
    await shown(page.getByRole('status').filter({ hasText: 'its children follow' }));
    const child: Run = await api.waitForRun(
      loadId,
      (r) => r.status === 'succeeded',
      'dep-load runs after its parent',
      30_000,
    );
    expect(child.trigger).toBe('dependency');
    const parentRunId = (child as Run & { parentRunIds: number[] }).parentRunIds[0];
    expect(parentRunId).toBeGreaterThan(0);

    await page.goto(`${dispatcher.base}/#/jobs/${loadId}/runs/${child.id}`);
    await shown(page.locator('#run-output [data-trigger="dependency"]', { hasText: `after #${parentRunId}` }));
    const upstream = page.locator('[data-links="upstream-title"]');
    await shown(upstream.getByRole('heading', { name: 'Upstream runs' }));
    await shown(upstream.locator(`tr[data-run="${parentRunId}"]`, { hasText: 'dep-extract' }));
    await upstream.getByRole('link', { name: `#${parentRunId}` }).click();

    await page.waitForURL(new RegExp(`#/jobs/${extract.id}/runs/${parentRunId}$`));
    const downstream = page.locator('[data-links="downstream-title"]');
    await shown(downstream.getByRole('heading', { name: 'Downstream runs' }));
    await shown(downstream.locator(`tr[data-run="${child.id}"]`, { hasText: 'dep-load' }));
  });

  it("shows the API's 400 naming a cycle when a parent is made a child of its child", async () => {
    await page.goto(`${dispatcher.base}/#/jobs/${extract.id}/edit`);
    await shown(page.getByRole('heading', { name: 'Edit dep-extract' }));
    await page.getByLabel('Add a parent').fill('dep-load');
    await page.getByRole('button', { name: 'Add dep-load as a parent' }).click();
    await page.getByRole('button', { name: 'Save changes' }).click();
    // Beside the parents when the message names dependsOn, else in the summary: either way on the form.
    await shown(page.locator('form.job-form').getByText(/cycle/i).first());
    await shown(page.getByRole('alert').filter({ hasText: 'The job was not saved' }));
    expect((await job(extract.id)).dependsOn).toEqual([]);
  });

  it('asks before deleting a parent, naming its children, and detaches them', async () => {
    await page.goto(`${dispatcher.base}/#/jobs/${extract.id}`);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await shown(dialog.getByText('One job depends on it'));
    await shown(dialog.getByText('dep-load'));
    await dialog.getByRole('button', { name: 'Delete job and detach its children' }).click();
    await page.waitForURL(/#\/jobs$/);
    const load = await job(loadId);
    expect(load.dependsOn).toEqual([]);
    // Left with no schedule: paused.
    expect(load.enabled).toBe(false);
  });
});
