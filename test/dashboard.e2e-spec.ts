// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core, against a dispatcher and
// an executor on SQLite (the built apps, as child processes), doing through the page what a user does, signed in
// through the login page (with the suites' admin token unless a test says otherwise).
// GOCRON_TEST_SCREENSHOTS=1 writes the README's screenshots to docs/screenshots; otherwise they go to a temp dir.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import amqp from 'amqplib';
import { Browser, BrowserContext, BrowserContextOptions, chromium, Locator, Page } from 'playwright-core';
import { Api, Dispatcher, Job, sqliteEnv, startDispatcher, startExecutor, TEST_ADMIN_TOKEN } from './support/gocron';
import { REPO_ROOT, stopAllApps } from './support/processes';
import { brokerEnv, deleteBrokerQueues, freePort, tmpDir } from './support/services';
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
const SHOTS =
  process.env.GOCRON_TEST_SCREENSHOTS === '1' ? join(REPO_ROOT, 'docs', 'screenshots') : tmpDir('dashboard-shots');

/** Waits until the locator's element is visible. */
function shown(locator: Locator, timeout = 10_000): Promise<void> {
  return locator.waitFor({ state: 'visible', timeout });
}

function gone(locator: Locator, timeout = 10_000): Promise<void> {
  return locator.waitFor({ state: 'detached', timeout });
}

describe('dashboard', () => {
  let dispatcher: Dispatcher;
  let api: Api;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  async function screenshot(p: Page, name: string, fullPage = false): Promise<void> {
    mkdirSync(SHOTS, { recursive: true });
    // The callers waited for the content; fonts may still be loading. Toasts are transient: not in the picture.
    await p.evaluate('document.fonts.ready.then(() => true)');
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage, style: '.toasts { display: none }' });
  }

  async function job(id: number): Promise<Job> {
    return (await api.call<Job>('GET', `/api/jobs/${id}`, undefined, 200)).body;
  }

  /** A browser of its own (no session cookie), whose page errors fail the test like the main page's. */
  async function freshPage(options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; p: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(e.message));
    return { context, p };
  }

  /** Opens `path` and signs in on the login page it lands on, with an API token; waits for the signed-in shell. */
  async function signIn(p: Page, token = TEST_ADMIN_TOKEN, path = '/#/jobs', base = dispatcher.base): Promise<void> {
    await p.goto(`${base}${path}`);
    await shown(p.getByRole('heading', { name: 'Sign in' }));
    await p.getByRole('tab', { name: 'API token' }).click();
    await p.getByLabel('Token', { exact: true }).fill(token);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
    await shown(p.getByRole('button', { name: 'Log out' }));
  }

  function jobIdOf(p: Page): number {
    const m = /#\/jobs\/(\d+)/.exec(p.url());
    if (!m) throw new Error(`not on a job page: ${p.url()}`);
    return Number(m[1]);
  }

  beforeAll(async () => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'dashboard', 'index.html'))) {
      throw new Error('dist/dashboard/index.html is missing: run `npm run build` first');
    }
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/test-services.sh`);
    const env = await sqliteEnv('dashboard');
    const executorPort = await freePort();
    dispatcher = await startDispatcher(
      { ...env, GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${executorPort}` },
      'dispatcher-dash',
    );
    await startExecutor({ ...env, GOCRON_EXECUTOR_CAPACITY: '4' }, 'executor-dash', executorPort);
    api = new Api(dispatcher.base);
    await waitFor(async () => (await api.call<unknown[]>('GET', '/api/executors')).body.length === 1, {
      timeoutMs: 15_000,
      what: 'the executor is listed',
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'UTC' });
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: dispatcher.base });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await stopAllApps();
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  it('signs in on the login page, then says what to do when there are no jobs', async () => {
    await page.goto(`${dispatcher.base}/`);
    await shown(page.getByRole('heading', { name: 'Sign in' }));
    expect(await page.title()).toBe('Sign in · gocron');
    await shown(page.getByText("First start: the admin token is in data/admin-token on the dispatcher's machine"));
    await shown(page.locator('code', { hasText: 'cat data/admin-token' }));
    await page.getByRole('tab', { name: 'API token' }).click();
    await page.getByLabel('Token', { exact: true }).fill(TEST_ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    await page.waitForURL(/#\/jobs$/);
    await shown(page.getByText('No jobs yet.'));
    await shown(page.locator('[data-live="live"]'));
    expect(await page.title()).toBe('Jobs · gocron');
    // Who is signed in, and the admin's links.
    await shown(page.locator('.topbar-user', { hasText: 'admin' }));
    await shown(page.locator('.topbar-user .badge', { hasText: 'admin' }));
    await shown(page.getByRole('link', { name: 'Users', exact: true }));
    await shown(page.getByRole('link', { name: 'Audit', exact: true }));
    await shown(page.getByRole('link', { name: 'New job', exact: true }).first());
  });

  it("shows the API's message for a wrong password, and returns to the page asked for once signed in", async () => {
    const { context, p } = await freshPage();
    try {
      await p.goto(`${dispatcher.base}/#/runs?status=cancelled`);
      await p.waitForURL(/#\/login\?next=/);
      await p.getByLabel('Username', { exact: true }).fill('admin');
      await p.getByLabel('Password', { exact: true }).fill('not-the-password');
      await p.getByRole('button', { name: 'Sign in', exact: true }).click();
      await shown(p.getByRole('alert').filter({ hasText: 'invalid username or password' }));
      expect(p.url()).toContain('#/login');

      await p.getByRole('tab', { name: 'API token' }).click();
      await p.getByLabel('Token', { exact: true }).fill(TEST_ADMIN_TOKEN);
      await p.getByRole('button', { name: 'Sign in', exact: true }).click();
      await p.waitForURL(/#\/runs\?status=cancelled$/);
      await shown(p.getByRole('heading', { name: 'Runs' }));
      expect(await p.getByLabel('Status').inputValue()).toBe('cancelled');
    } finally {
      await context.close();
    }
  });

  it('creates a shell job through the form, sees it run and reads its output', async () => {
    await page.getByRole('link', { name: 'New job', exact: true }).first().click();
    await shown(page.getByRole('heading', { name: 'New job' }));
    await page.getByLabel('Name', { exact: true }).fill('dash-hello');
    await page.getByLabel('Description').fill('Says hello every two seconds');
    await page.getByLabel('Cron expression').fill('*/2 * * * * *');
    await shown(page.getByText('Every 2 seconds.'));
    await waitFor(async () => (await page.locator('#cron-preview li').count()) === 5, {
      timeoutMs: 5000,
      what: 'the preview lists 5 fire times',
    });
    await page.getByLabel('Command', { exact: true }).fill('echo "$GREETING from run $GOCRON_RUN_ID"');
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Variable 1 name').fill('GREETING');
    await page.getByLabel('Variable 1 value').fill('hello-dashboard');
    await page.getByRole('button', { name: 'Create job' }).click();

    await page.waitForURL(/#\/jobs\/\d+$/);
    const id = jobIdOf(page);
    await shown(page.getByRole('heading', { name: /dash-hello/ }));
    expect(await job(id)).toMatchObject({
      name: 'dash-hello',
      cron: '*/2 * * * * *',
      env: { GREETING: 'hello-dashboard' },
      owner: 'dispatcher-dash',
    });
    // Without etcd the one dispatcher holds every shard: it owns the job.
    await shown(page.locator('[data-fact="owner"]', { hasText: 'dispatcher-dash plans its runs' }));

    // The run shows up without a reload (server-sent events), then its output.
    const succeeded = page.locator('tr[data-status="succeeded"]').first();
    await shown(succeeded, 20_000);
    await succeeded.getByRole('link', { name: 'Output', exact: true }).click();
    await shown(page.locator('#run-output pre', { hasText: /hello-dashboard from run \d+/ }));
    expect(await page.locator('#run-output').textContent()).toContain('exit code 0');
  });

  it('pauses it', async () => {
    const id = jobIdOf(page);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await shown(page.getByRole('button', { name: 'Resume', exact: true }));
    await shown(page.locator('h1 .badge', { hasText: 'paused' }));
    expect(await job(id)).toMatchObject({ enabled: false, owner: null });
    await shown(page.locator('[data-fact="owner"]', { hasText: '— none while paused' }));
  });

  it('edits its schedule, previewing the next fire times in its time zone', async () => {
    const id = jobIdOf(page);
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await shown(page.getByRole('heading', { name: 'Edit dash-hello' }));
    expect(await page.getByLabel('Cron expression').inputValue()).toBe('*/2 * * * * *');
    await page.getByLabel('Cron expression').fill('0 9 * * 1-5');
    await page.getByLabel('Time zone').fill('Europe/Paris');
    await shown(page.getByText('At 09:00, Monday to Friday.'));
    await shown(page.locator('#cron-preview h3', { hasText: 'in Europe/Paris' }));
    await waitFor(
      async () => {
        const times = await page.locator('#cron-preview .preview-time').allTextContents();
        return times.length === 5 && times.every((t) => t.includes('09:00:00') && !/Sat|Sun/.test(t));
      },
      { timeoutMs: 5000, what: 'five weekday 09:00 fire times in the preview' },
    );
    await screenshot(page, 'job-form');
    await page.getByRole('button', { name: 'Save changes' }).click();

    await page.waitForURL(new RegExp(`#/jobs/${id}$`));
    await shown(page.getByText('At 09:00, Monday to Friday'));
    expect(await job(id)).toMatchObject({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris', enabled: false });
  });

  it("shows the API's 400 messages beside the fields they name", async () => {
    const id = jobIdOf(page);
    await page.goto(`${dispatcher.base}/#/jobs/${id}/edit`);
    const timezone = page.getByLabel('Time zone');
    await timezone.fill('Mars/Olympus');
    await shown(page.locator('#cron-preview', { hasText: "unknown time zone 'Mars/Olympus'" }));
    await page.getByRole('button', { name: 'Save changes' }).click();
    await shown(page.locator('#f-timezone-error', { hasText: "timezone: unknown IANA time zone 'Mars/Olympus'" }));
    expect(await timezone.getAttribute('aria-invalid')).toBe('true');
    expect(await timezone.getAttribute('aria-describedby')).toContain('f-timezone-error');
    expect(await page.evaluate('document.activeElement?.id')).toBe('f-timezone');
    await shown(page.getByRole('alert').filter({ hasText: 'The job was not saved' }));

    await timezone.fill('UTC');
    await page.getByLabel('Cron expression').fill('0 0 30 2 *');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await shown(page.locator('#f-cron-error', { hasText: 'cron: never fires' }));
    await gone(page.locator('#f-timezone-error'));

    await page.getByLabel('Name', { exact: true }).fill('');
    await page.getByLabel('HTTP request').check();
    await page.getByLabel('URL').fill('ftp://example.com/x');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await shown(page.locator('#f-name-error', { hasText: 'name should not be empty' }));
    await shown(page.locator('#f-http-url-error', { hasText: 'http.url must be an http or https URL' }));

    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(new RegExp(`#/jobs/${id}$`));
    expect(await job(id)).toMatchObject({ name: 'dash-hello', cron: '0 9 * * 1-5', type: 'shell' });
  });

  it('runs a job now and cancels the running run', async () => {
    const sleeper = await api.createJob({
      name: 'dash-sleeper',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'sleep 30',
    });
    await page.goto(`${dispatcher.base}/#/jobs`);
    await page.getByRole('button', { name: 'Run now dash-sleeper' }).click();
    await page.getByRole('status').getByRole('link', { name: 'View run' }).click();
    await page.waitForURL(new RegExp(`#/jobs/${sleeper.id}/runs/\\d+$`));
    const runId = Number(/runs\/(\d+)$/.exec(page.url())?.[1]);
    const row = page.locator(`tr[data-run="${runId}"]`);
    await shown(page.locator(`tr[data-run="${runId}"][data-status="running"]`));
    await row.getByRole('button', { name: `Cancel run ${runId}` }).click();
    await shown(page.locator(`tr[data-run="${runId}"][data-status="cancelled"]`));
    await shown(page.locator('#run-output .badge', { hasText: 'cancelled' }));
    expect((await api.run(runId)).status).toBe('cancelled');
  });

  it('searches and filters the jobs list', async () => {
    await api.createJob({
      name: 'weekday-digest',
      description: 'Morning summary for the reports team',
      cron: '0 9 * * 1-5',
      timezone: 'America/New_York',
      group: 'reports',
      type: 'shell',
      command: 'echo digest',
      enabled: false,
    });
    await page.goto(`${dispatcher.base}/#/jobs`);
    // allTextContents() reads what is there now (a locator per row would wait for rows a filter removed).
    const names = () => page.locator('tbody td[data-label="Name"] a').allTextContents();
    await shown(page.locator('tr[data-job="weekday-digest"]'));

    await page.getByLabel('Group').selectOption('reports');
    await waitFor(async () => (await names()).join() === 'weekday-digest', { timeoutMs: 5000, what: 'group filter' });
    await page.getByLabel('Group').selectOption('');
    await page.getByLabel('Search').fill('sleep');
    await waitFor(async () => (await names()).join() === 'dash-sleeper', { timeoutMs: 5000, what: 'search' });
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('State').selectOption('paused');
    await waitFor(async () => (await names()).sort().join() === 'dash-hello,weekday-digest', {
      timeoutMs: 5000,
      what: 'paused filter',
    });
    await page.getByLabel('State').selectOption('');
    await page.getByLabel('Last run').selectOption('cancelled');
    await waitFor(async () => (await names()).join() === 'dash-sleeper', { timeoutMs: 5000, what: 'last-run filter' });
    await page.getByLabel('Search').fill('nothing-like-this');
    await shown(page.getByText('No jobs match these filters.'));
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await waitFor(async () => (await names()).length === 3, { timeoutMs: 5000, what: 'filters cleared' });
  });

  it('shows a viewer no button it can not use', async () => {
    const viewer = (
      await api.call<{ id: number }>('POST', '/api/users', { username: 'dash-viewer', role: 'viewer' }, 201)
    ).body;
    const { token } = (
      await api.call<{ token: string }>('POST', '/api/tokens', { name: 'dash-viewer-key', userId: viewer.id }, 201)
    ).body;
    const { context, p } = await freshPage();
    try {
      await signIn(p, token);
      await shown(p.locator('tr[data-job="dash-hello"]'));
      await shown(p.locator('.topbar-user', { hasText: 'dash-viewer' }));
      await shown(p.locator('.topbar-user .badge', { hasText: 'viewer' }));
      expect(await p.getByRole('link', { name: 'New job' }).count()).toBe(0);
      expect(await p.getByRole('button', { name: /^(Run now|Pause|Resume|Delete)/ }).count()).toBe(0);
      expect(await p.getByRole('link', { name: 'Users', exact: true }).count()).toBe(0);
      expect(await p.getByRole('link', { name: 'Audit', exact: true }).count()).toBe(0);

      await p.getByRole('link', { name: 'dash-hello', exact: true }).click();
      await shown(p.getByRole('heading', { name: /dash-hello/ }));
      await shown(p.locator('tr[data-run]').first());
      expect(await p.getByRole('button', { name: /^(Run now|Pause|Resume|Delete|Cancel)/ }).count()).toBe(0);
      expect(await p.getByRole('link', { name: 'Edit', exact: true }).count()).toBe(0);

      await p.goto(`${dispatcher.base}/#/jobs/new`);
      await shown(p.getByText('Only admins create and edit jobs.'));
    } finally {
      await context.close();
    }
  });

  it('creates a token on the tokens page, shows its secret once, and revokes it', async () => {
    await page.goto(`${dispatcher.base}/#/jobs`);
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await shown(page.getByRole('heading', { name: 'API tokens' }));
    await page.getByLabel('Name', { exact: true }).fill('dash-script');
    await page.getByLabel('Expires', { exact: true }).selectOption('30d');
    await page.getByLabel('Role', { exact: true }).selectOption('operator');
    await page.getByRole('button', { name: 'Create token' }).click();

    const secret = page.locator('#new-token-secret');
    await shown(secret);
    const token = (await secret.textContent()) ?? '';
    expect(token).toMatch(/^gct_[A-Za-z0-9_-]{43}$/);
    await shown(page.getByText('it will not be shown again'));
    await page.getByRole('button', { name: 'Copy token' }).click();
    await shown(page.getByRole('button', { name: 'Copied', exact: true }));
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(token);
    const holder = api.withToken(token);
    expect((await holder.call('GET', '/api/auth/me', undefined, 200)).body).toMatchObject({
      username: 'admin',
      role: 'operator',
      via: 'token',
    });

    const row = page.locator('tr[data-token="dash-script"]');
    await shown(row);
    // The list names a token by the first characters of its secret.
    const prefix = /^(gct_[\w-]+)…$/.exec((await row.locator('td[data-label="Token"]').textContent()) ?? '')?.[1] ?? '';
    expect(token.startsWith(prefix) && prefix.length >= 8 && prefix.length < token.length).toBe(true);
    expect(await row.locator('td[data-label="User"]').textContent()).toBe('admin');
    // Shown once: the page read again lists the token, not its secret.
    await page.reload();
    await shown(row);
    expect(await page.locator('#new-token-secret').count()).toBe(0);
    expect(await page.content()).not.toContain(token);

    const dialog = page.getByRole('dialog');
    await row.getByRole('button', { name: 'Revoke dash-script' }).click();
    await shown(dialog.getByRole('heading', { name: 'Revoke dash-script?' }));
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await gone(row);
    await holder.call('GET', '/api/auth/me', undefined, 401);
  });

  it('sets a password for the admin that signed in with the token, which then signs in with it', async () => {
    await page.goto(`${dispatcher.base}/#/jobs`);
    await page.locator('.topbar-user').click();
    await shown(page.getByRole('heading', { name: 'Set a password' }));
    await page.getByLabel('New password', { exact: true }).fill('short');
    await page.getByLabel('Repeat new password').fill('short');
    await page.getByRole('button', { name: 'Set password' }).click();
    await shown(page.getByRole('alert').filter({ hasText: 'at least 8 characters' }));
    await page.getByLabel('New password', { exact: true }).fill('admin-password-1');
    await page.getByLabel('Repeat new password').fill('admin-password-1');
    await page.getByRole('button', { name: 'Set password' }).click();
    await shown(page.getByRole('heading', { name: 'Change your password' }));

    const { context, p } = await freshPage();
    try {
      await p.goto(`${dispatcher.base}/#/cluster`);
      await p.getByLabel('Username', { exact: true }).fill('admin');
      await p.getByLabel('Password', { exact: true }).fill('admin-password-1');
      await p.getByRole('button', { name: 'Sign in', exact: true }).click();
      await p.waitForURL(/#\/cluster$/);
      await shown(p.locator('.topbar-user', { hasText: 'admin' }));
    } finally {
      await context.close();
    }
  });

  it('manages users (409s explained) and shows the audit log with its changes', async () => {
    await page.goto(`${dispatcher.base}/#/jobs`);
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await shown(page.getByRole('heading', { name: 'Users', level: 1 }));
    await page.getByLabel('Username').fill('dash-operator');
    await page.getByLabel('Role', { exact: true }).selectOption('operator');
    await page.getByLabel('Password (optional)').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create user' }).click();
    const row = page.locator('tr[data-user="dash-operator"]');
    await shown(row);
    expect(await row.locator('td[data-label="Password"]').textContent()).toBe('set');
    // The same name again: the API's 409, beside the form.
    await page.getByLabel('Username').fill('dash-operator');
    await page.getByRole('button', { name: 'Create user' }).click();
    await shown(page.locator('.users-new [role="alert"]'));

    await page.getByLabel('Role of dash-operator').selectOption('viewer');
    await waitFor(
      async () =>
        (await api.call<{ username: string; role: string }[]>('GET', '/api/users', undefined, 200)).body.find(
          (u) => u.username === 'dash-operator',
        )?.role === 'viewer',
      { timeoutMs: 5000, what: 'dash-operator becomes a viewer' },
    );
    const dialog = page.getByRole('dialog');
    await page.getByRole('button', { name: 'Disable dash-operator' }).click();
    await dialog.getByRole('button', { name: 'Disable user' }).click();
    await shown(row.locator('.badge', { hasText: 'disabled' }));
    // The last enabled admin can not go: the 409's message is shown.
    await page.getByRole('button', { name: 'Delete admin' }).click();
    await dialog.getByRole('button', { name: 'Delete user' }).click();
    await shown(page.getByRole('status').filter({ hasText: 'last enabled admin' }));
    await shown(page.locator('tr[data-user="admin"]'));

    await page.getByRole('link', { name: 'Audit', exact: true }).click();
    await shown(page.getByRole('heading', { name: 'Audit log' }));
    await page.getByLabel('Action').selectOption('user.created');
    const created = page.locator('tr[data-action="user.created"]', { hasText: 'dash-operator' });
    await shown(created);
    await page.getByLabel('Action').selectOption('job.updated');
    // The schedule edit earlier: its row names the field it changed, old and new value.
    const edit = page
      .locator('tr[data-action="job.updated"]')
      .filter({ has: page.locator('.diff-changed .diff-path', { hasText: /^cron$/ }) });
    await shown(edit);
    await shown(edit.locator('.diff-changed', { hasText: '"0 9 * * 1-5"' }));
  });

  it('deletes a job only after confirmation', async () => {
    await api.createJob({ name: 'dash-temp', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
    await page.goto(`${dispatcher.base}/#/jobs`);
    const row = page.locator('tr[data-job="dash-temp"]');
    await shown(row);
    const dialog = page.getByRole('dialog');

    await page.getByRole('button', { name: 'Delete dash-temp' }).click();
    await shown(dialog.getByRole('heading', { name: 'Delete dash-temp?' }));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await shown(row);

    await page.getByRole('button', { name: 'Delete dash-temp' }).click();
    await dialog.getByRole('button', { name: 'Delete job' }).click();
    await gone(row);
    const jobs = (await api.call<{ items: Job[] }>('GET', '/api/jobs?q=dash-temp', undefined, 200)).body.items;
    expect(jobs).toEqual([]);
  });

  it('shows a job with its run history, chart and output', async () => {
    // A job that fails one run in three: the chart and the table get both outcomes.
    const flaky = await api.createJob({
      name: 'flaky-backup',
      description: 'Copies the uploads to cold storage',
      cron: '*/2 * * * * *',
      type: 'shell',
      command:
        'echo "backup: copying $((GOCRON_RUN_ID % 7 + 3)) files"; sleep 0.$((GOCRON_RUN_ID % 4)); [ $((GOCRON_RUN_ID % 3)) -ne 0 ]',
      retries: 1,
    });
    const nightly = await api.createJob({
      name: 'nightly-report',
      description: 'Sales report, mailed to the team',
      cron: '0 2 * * *',
      timezone: 'Europe/Paris',
      type: 'shell',
      command: 'echo report sent',
    });
    const ping = await api.createJob({
      name: 'ping-health',
      cron: '*/30 * * * * *',
      type: 'http',
      http: { method: 'GET', url: `${dispatcher.base}/api/health`, expectStatus: [200] },
    });
    await page.goto(`${dispatcher.base}/#/jobs/${flaky.id}`);
    const finished = page.locator('tr[data-status="succeeded"], tr[data-status="failed"]');
    await waitFor(
      async () => (await finished.count()) >= 8 && (await page.locator('tr[data-status="failed"]').count()) > 0,
      {
        timeoutMs: 40_000,
        what: 'eight finished runs of flaky-backup, some failed',
      },
    );
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await shown(page.getByRole('button', { name: 'Resume', exact: true }));
    await waitFor(
      async () => (await page.locator('tr[data-status="running"], tr[data-status="pending"]').count()) === 0,
      {
        timeoutMs: 10_000,
        what: 'no run of flaky-backup is still going',
      },
    );
    expect(await page.locator('.chart rect.bar').count()).toBeGreaterThanOrEqual(8);
    expect(await page.locator('.chart svg').getAttribute('aria-label')).toMatch(/succeeded.*median duration/);

    const failed = page.locator('tr[data-status="failed"]').first();
    await failed.getByRole('link', { name: 'Output', exact: true }).click();
    await shown(page.locator('#run-output pre', { hasText: /backup: copying \d+ files/ }));
    await shown(page.locator('#run-output', { hasText: 'exit code 1' }));
    // Lag is started minus scheduled: a number of ms or s.
    expect(await failed.locator('td[data-label="Lag"]').textContent()).toMatch(/^[+−]\d/);
    await screenshot(page, 'job-detail', true);

    await api.call('POST', `/api/jobs/${flaky.id}/resume`, undefined, 200);
    for (const j of [nightly, ping]) await api.waitForRunStatus(await api.trigger(j.id), ['succeeded']);
    await page.goto(`${dispatcher.base}/#/jobs`);
    await shown(page.locator('tr[data-job="nightly-report"]'));
    await shown(page.locator('tr[data-job="ping-health"] .badge', { hasText: 'succeeded' }));
    const ownerIn = (name: string) => page.locator(`tr[data-job="${name}"] td[data-label="Next run"] .owner`);
    expect(await ownerIn('nightly-report').textContent()).toBe('by dispatcher-dash');
    expect(await ownerIn('weekday-digest').textContent()).toBe('—'); // paused
    await screenshot(page, 'jobs');
  });

  it('lists executors and dispatchers', async () => {
    await page.goto(`${dispatcher.base}/#/cluster`);
    const executor = page.locator('tr[data-executor="executor-dash"]');
    await shown(executor);
    expect(await executor.locator('td[data-label="Group"]').textContent()).toBe('default');
    expect(await executor.locator('td[data-label="Capacity"]').textContent()).toBe('4');
    expect(await executor.locator('td[data-label="Uptime"]').textContent()).toMatch(/\d+ (s|min)/);
    await shown(page.getByRole('cell', { name: 'dispatcher-dash' }));
    // Embedded (static discovery): the only dispatcher holds all 256 shards; the summary opens to their numbers.
    const shards = page.locator('tr[data-dispatcher="dispatcher-dash"] td[data-label="Shards"]');
    const summary = shards.locator('summary');
    expect(await summary.textContent()).toBe('256 shards');
    expect(await summary.getAttribute('title')).toBe('shards 0–255');
    await summary.click();
    await shown(shards.locator('.mono', { hasText: '0–255' }));
    await shown(page.locator('#health-title .badge', { hasText: 'ok' }));
    await screenshot(page, 'cluster');
  });

  it('says on the broker page that the RabbitMQ transport is off', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Broker' }).click();
    await page.waitForURL(/#\/broker$/);
    await shown(page.getByText('RabbitMQ transport is off: set [rabbitmq] url'));
    expect(await page.locator('[role="alert"]').count()).toBe(0);
  });

  it('shows the broker connection, its queues and a dead letter with a link to its run when the transport is on', async () => {
    // A dispatcher of its own with the broker, no executor: a triggered run waits in its group's queue.
    const env = { ...(await sqliteEnv('dashboard-mq')), ...brokerEnv('dashboard-mq', 'mq') };
    const prefix = env.GOCRON_RABBITMQ_PREFIX;
    const queue = `${prefix}.runs.mq`;
    const mq = await startDispatcher(env, 'dispatcher-dash-mq');
    const mqApi = new Api(mq.base);
    const { context, p } = await freshPage({ locale: 'en-GB', timezoneId: 'UTC' });
    const conn = await amqp.connect(env.GOCRON_RABBITMQ_URL);
    try {
      const j = await mqApi.createJob({
        name: 'queued',
        cron: ONCE_A_YEAR,
        type: 'shell',
        command: 'true',
        group: 'mq',
      });
      const runId = await mqApi.trigger(j.id);
      await waitFor(
        async () =>
          (
            await mqApi.call<{ queues: { name: string; ready: number | null }[] }>('GET', '/api/broker')
          ).body.queues.find((q) => q.name === queue)?.ready === 1,
        // A trigger before the broker link was up is published by the pending pass after FRESH_MS (10 s).
        { timeoutMs: 20_000, what: 'the run queued' },
      );
      // The run's message, dead-lettered as if it had expired in its queue: the dispatcher fails the run.
      const ch = await conn.createChannel();
      const msg = await ch.get(queue, { noAck: true });
      if (msg === false) throw new Error(`no message in ${queue}`);
      ch.publish(`${prefix}.dead`, '', msg.content, {
        headers: { 'x-first-death-reason': 'expired', 'x-first-death-queue': queue },
      });
      await mqApi.waitForRunStatus(runId, ['failed']);
      // A copy the pending pass published while the first publish waited for its confirm (a loaded machine) may
      // still sit in the queue: the run is final now, so nothing publishes it again once the queue is purged.
      await waitFor(
        async () => {
          await ch.purgeQueue(queue);
          const q = (
            await mqApi.call<{ queues: { name: string; ready: number | null }[] }>('GET', '/api/broker')
          ).body.queues.find((x) => x.name === queue);
          return q?.ready === 0;
        },
        { timeoutMs: 10_000, what: 'the queue empty once the run failed' },
      );
      await ch.close();

      await signIn(p, TEST_ADMIN_TOKEN, '/#/broker', mq.base);
      await shown(p.locator('#broker-connection-title .badge', { hasText: 'connected' }));
      expect(await p.locator('[data-field="url"]').textContent()).toMatch(/^amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+/);
      expect(await p.locator('[data-field="groups"]').textContent()).toBe('mq');
      const row = p.locator(`tr[data-queue="${queue}"]`);
      await shown(row);
      expect(await row.locator('td[data-label="Kind"]').textContent()).toBe('runs of group mq');
      expect(await row.locator('td[data-label="Ready"]').textContent()).toBe('0');
      expect(await row.locator('td[data-label="Unacked"]').textContent()).toBe('–');
      await shown(p.locator(`tr[data-queue="${prefix}.dead"]`));
      const dead = p.locator(`tr[data-dead-letter="${runId}"]`);
      await shown(dead);
      expect(await dead.locator('td[data-label="Reason"]').textContent()).toBe('expired');
      expect(await dead.locator('td[data-label="From queue"]').textContent()).toBe(queue);
      expect(await dead.locator('td[data-label="Outcome"]').textContent()).toBe('failed the run');
      expect(await dead.getByRole('link', { name: `run #${runId}` }).getAttribute('href')).toBe(
        `#/jobs/${j.id}/runs/${runId}`,
      );
      expect(await p.locator('[role="alert"]').count()).toBe(0);
      await screenshot(p, 'broker');
    } finally {
      await conn.close().catch(() => undefined);
      await context.close();
      await mq.app.kill();
      await deleteBrokerQueues(prefix, { groups: ['mq'] }).catch(() => undefined);
    }
  });

  it('lists runs across jobs, filtered by status', async () => {
    await page.goto(`${dispatcher.base}/#/runs`);
    await shown(page.locator('tbody tr').first());
    await page.getByLabel('Status').selectOption('cancelled');
    await waitFor(
      async () => {
        const statuses = await page.locator('tbody td[data-label="Status"]').allTextContents();
        return statuses.join() === 'cancelled';
      },
      { timeoutMs: 5000, what: 'only the cancelled run is listed' },
    );
    await shown(page.getByRole('link', { name: 'dash-sleeper' }));
  });

  it("lists notification deliveries with their state, the target masked, and edits a job's notify write-only", async () => {
    const hits: string[] = [];
    const receiver = createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const failing = await api.createJob({
        name: 'dash-notified',
        cron: ONCE_A_YEAR,
        type: 'shell',
        command: 'exit 4',
        notify: { on: ['failed'], webhook: `http://127.0.0.1:${port}/hook/DASH-CREDENTIAL` },
      });
      await api.waitForRunStatus(await api.trigger(failing.id), ['failed'], 30_000);
      await waitFor(() => hits.length > 0, { timeoutMs: 40_000, what: 'the webhook is called' });

      await page.goto(`${dispatcher.base}/#/notifications`);
      const row = page.locator(`tr[data-channel="webhook"][data-status="sent"]`).first();
      await shown(row, 20_000);
      expect(await row.locator('td[data-label="Event"]').textContent()).toBe('failed');
      expect(await row.locator('td[data-label="Channel"]').textContent()).toBe(`webhook http://127.0.0.1:${port}/***`);
      expect(await page.content()).not.toContain('DASH-CREDENTIAL');
      await page.getByLabel('State').selectOption('failed');
      await shown(page.getByText('No failed notifications.'));

      // The form shows that a URL is stored, never the URL; saving unchanged keeps it.
      await page.goto(`${dispatcher.base}/#/jobs/${failing.id}/edit`);
      const webhook = page.getByLabel('Webhook URL', { exact: true });
      await shown(webhook);
      expect(await webhook.inputValue()).toBe('');
      expect(await webhook.getAttribute('placeholder')).toMatch(/stored/);
      expect(await page.getByRole('checkbox', { name: 'failed', exact: true }).isChecked()).toBe(true);
      await page.getByRole('checkbox', { name: 'recovered', exact: true }).check();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.waitForURL(new RegExp(`#/jobs/${failing.id}$`));
      const saved = await job(failing.id);
      expect(saved.notify).toEqual({ on: ['failed', 'recovered'], webhook: `http://127.0.0.1:${port}/***` });
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  it('falls back to polling when the event stream fails', async () => {
    const { context, p } = await freshPage();
    try {
      await p.route('**/api/events', (route) => route.abort());
      await signIn(p);
      await shown(p.locator('[data-live="polling"]'));
      await api.createJob({ name: 'dash-polled', cron: ONCE_A_YEAR, type: 'shell', command: 'true' });
      await shown(p.locator('tr[data-job="dash-polled"]'), 12_000);
    } finally {
      await context.close();
    }
  });

  it('works on a narrow window, from the keyboard', async () => {
    const { context, p } = await freshPage({ viewport: { width: 390, height: 844 }, locale: 'en-GB' });
    try {
      await signIn(p);
      await shown(p.locator('tr[data-job="flaky-backup"]'));
      expect(await p.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth')).toBe(
        true,
      );
      await screenshot(p, 'jobs-narrow');

      // Tab to "New job", open it with Enter, type a name: no mouse needed.
      await waitFor(
        async () => {
          await p.keyboard.press('Tab');
          return (await p.evaluate('document.activeElement?.textContent')) === 'New job';
        },
        { timeoutMs: 10_000, intervalMs: 0, what: 'Tab reaches New job' },
      );
      await p.keyboard.press('Enter');
      await shown(p.getByRole('heading', { name: 'New job' }));
      await p.getByLabel('Name', { exact: true }).focus();
      await p.keyboard.type('typed-by-keyboard');
      expect(await p.getByLabel('Name', { exact: true }).inputValue()).toBe('typed-by-keyboard');
    } finally {
      await context.close();
    }
  });

  it("follows a running run's output live, then shows the recorded output", async () => {
    const talker = await api.createJob({
      name: 'dash-talker',
      cron: ONCE_A_YEAR,
      type: 'shell',
      command: 'echo first-line; sleep 3; echo second-line',
    });
    await page.goto(`${dispatcher.base}/#/jobs`);
    await page.getByRole('button', { name: 'Run now dash-talker' }).click();
    await page.getByRole('status').getByRole('link', { name: 'View run' }).last().click();
    await page.waitForURL(new RegExp(`#/jobs/${talker.id}/runs/\\d+$`));
    const runId = Number(/runs\/(\d+)$/.exec(page.url())?.[1]);
    // The first line is there, with the live mark, while the run is still running (nothing is recorded yet).
    await shown(page.locator('#run-output pre', { hasText: 'first-line' }));
    await shown(page.locator('#run-output [data-live="following"]'));
    expect(await page.locator('#run-output pre').textContent()).not.toContain('second-line');
    expect((await api.run(runId)).status).toBe('running');
    await shown(page.locator('#run-output pre', { hasText: 'second-line' }), 15_000);
    await shown(page.locator('#run-output .badge', { hasText: 'succeeded' }), 15_000);
    await gone(page.locator('#run-output [data-live="following"]'));
    expect(await page.locator('#run-output pre').textContent()).toBe('first-line\nsecond-line\n');
  });

  it('logs out to the login page, and the session is gone', async () => {
    await page.goto(`${dispatcher.base}/#/jobs`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/#\/login$/);
    await shown(page.getByRole('heading', { name: 'Sign in' }));
    expect(await page.evaluate('document.cookie')).not.toContain('gocron_csrf');
    // Any page now asks to sign in first, and keeps the way back.
    await page.goto(`${dispatcher.base}/#/cluster`);
    await page.waitForURL(/#\/login\?next=%2Fcluster$/);
    await shown(page.getByRole('heading', { name: 'Sign in' }));
  });
});
