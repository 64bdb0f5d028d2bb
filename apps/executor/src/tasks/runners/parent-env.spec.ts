import { PARENT_OUTPUT_TAIL_BYTES } from '@app/contract';
import { parentOutputTail } from './parent-env';
import { buildTaskEnv, ShellRunner } from './shell-runner';
import type { ParentContext, ParentRun, RunContext } from './task-runner';

const ctx = (parents?: ParentContext): RunContext => ({
  runId: 42,
  jobId: 7,
  scheduledAt: '2026-01-02T03:04:05.000Z',
  attempt: 1,
  timeoutMs: 10_000,
  parents,
});

const parent = (id: number, jobId: number, over: Partial<ParentRun> = {}): ParentRun => ({
  id,
  jobId,
  exitCode: 0,
  httpStatus: null,
  outputTail: `out-${id}`,
  ...over,
});

const parentVars = (env: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('GOCRON_PARENT_')));

describe('parentOutputTail', () => {
  it('keeps an output of at most 4 KiB whole', () => {
    expect(parentOutputTail('')).toBe('');
    const exact = 'x'.repeat(PARENT_OUTPUT_TAIL_BYTES);
    expect(parentOutputTail(exact)).toBe(exact);
  });

  it('keeps the last 4 KiB of a longer one', () => {
    const tail = 'b'.repeat(PARENT_OUTPUT_TAIL_BYTES - 3) + 'end';
    expect(parentOutputTail('a'.repeat(10_000) + tail)).toBe(tail);
  });

  it.each([
    ['é (2 bytes)', 'é', 1],
    ['€ (3 bytes)', '€', 2],
    ['😀 (4 bytes)', '😀', 3],
  ])('cuts on a character boundary: the 4 KiB mark inside %s drops the whole character', (_, char, inside) => {
    // The last 4096 bytes hold only the last `inside` bytes of `char`: those are dropped, not decoded as U+FFFD.
    const rest = 'z'.repeat(PARENT_OUTPUT_TAIL_BYTES - inside);
    const tail = parentOutputTail('head' + char + rest);
    expect(tail).toBe(rest);
    expect(tail).not.toContain('\uFFFD');
  });

  it('drops the partial character a tail read from the ledger starts with', () => {
    const bytes = Buffer.from('€ok', 'utf8').subarray(1); // as the ledger's last N bytes may begin
    expect(parentOutputTail(bytes)).toBe('ok');
  });

  it('keeps a character that starts exactly at the 4 KiB mark', () => {
    const kept = '€' + 'z'.repeat(PARENT_OUTPUT_TAIL_BYTES - 3);
    expect(parentOutputTail('€€' + kept)).toBe(kept);
    expect(Buffer.byteLength(kept)).toBe(PARENT_OUTPUT_TAIL_BYTES);
  });

  it('never answers more than the bound, in bytes, for text of any width', () => {
    for (const unit of ['a', 'é', '€', '😀', 'a€😀é']) {
      const tail = parentOutputTail(unit.repeat(5000), 100);
      expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(100);
      expect(Buffer.byteLength(tail)).toBeGreaterThan(96);
      expect(tail).not.toContain('\uFFFD');
    }
  });

  it('removes NUL bytes, which an environment value can not hold', () => {
    expect(parentOutputTail('a\0b\0\0c')).toBe('abc');
    const long = 'x'.repeat(PARENT_OUTPUT_TAIL_BYTES) + '\0tail';
    expect(parentOutputTail(long)).toBe('x'.repeat(PARENT_OUTPUT_TAIL_BYTES - 5) + 'tail');
  });
});

describe("a dependency run's environment", () => {
  it('gets the parent run ids and, per parent job, its exit code, HTTP status and output', () => {
    const env = buildTaskEnv(
      ctx({
        runIds: [5, 9],
        runs: [
          parent(5, 1, { exitCode: 3, outputTail: 'shell said' }),
          parent(9, 2, { exitCode: null, httpStatus: 503, outputTail: 'down' }),
        ],
      }),
      {},
      {},
    );
    expect(parentVars(env)).toEqual({
      GOCRON_PARENT_RUN_IDS: '5,9',
      GOCRON_PARENT_EXIT_CODE_1: '3',
      GOCRON_PARENT_OUTPUT_1: 'shell said',
      GOCRON_PARENT_HTTP_STATUS_2: '503',
      GOCRON_PARENT_OUTPUT_2: 'down',
    });
  });

  it('takes the per-job variables of a broadcast parent from its run with the highest id, whole', () => {
    const env = buildTaskEnv(
      ctx({
        runIds: [5, 6, 8],
        // The higher run has no exit code: the lower one's must not show through beside its output.
        runs: [parent(5, 1, { exitCode: 1, outputTail: 'old' }), parent(8, 1, { exitCode: null, outputTail: 'new' })],
      }),
      {},
      {},
    );
    expect(parentVars(env)).toEqual({ GOCRON_PARENT_RUN_IDS: '5,6,8', GOCRON_PARENT_OUTPUT_1: 'new' });
  });

  it('is told it is one even when no parent run is left (ids empty)', () => {
    expect(parentVars(buildTaskEnv(ctx({ runIds: [], runs: [] }), {}, {}))).toEqual({ GOCRON_PARENT_RUN_IDS: '' });
  });

  it("can not be spoofed by the job's own variables: GOCRON_PARENT_* of the job never reach the task", () => {
    const jobEnv = {
      GOCRON_PARENT_RUN_IDS: '1,2,3',
      GOCRON_PARENT_EXIT_CODE_1: '0',
      GOCRON_PARENT_EXIT_CODE_99: '0',
      GOCRON_PARENT_OUTPUT_99: 'forged',
      GOCRON_PARENTAL: 'kept: another prefix',
    };
    const dependent = buildTaskEnv(ctx({ runIds: [5], runs: [parent(5, 1, { exitCode: 2 })] }), jobEnv, {});
    expect(parentVars(dependent)).toEqual({
      GOCRON_PARENT_RUN_IDS: '5',
      GOCRON_PARENT_EXIT_CODE_1: '2',
      GOCRON_PARENT_OUTPUT_1: 'out-5',
    });
    expect(dependent.GOCRON_PARENTAL).toBe('kept: another prefix');
    // Nor on a run that is no dependency run: a task never reads a parent variable the ledger did not give.
    expect(parentVars(buildTaskEnv(ctx(), jobEnv, {}))).toEqual({});
  });

  it('keeps the safe base: nothing of the executor’s environment comes with the parents', () => {
    const env = buildTaskEnv(ctx({ runIds: [5], runs: [parent(5, 1)] }), {}, { GOCRON_DATABASE_PASSWORD: 'pw' });
    expect(Object.keys(env).sort()).toEqual([
      'GOCRON_ATTEMPT',
      'GOCRON_JOB_ID',
      'GOCRON_PARENT_EXIT_CODE_1',
      'GOCRON_PARENT_OUTPUT_1',
      'GOCRON_PARENT_RUN_IDS',
      'GOCRON_RUN_ID',
      'GOCRON_SCHEDULED_AT',
      'PATH',
    ]);
  });

  it('reaches the spawned shell, multi-line output and all', async () => {
    const output = 'line 1\nline "2" $HOME `x`\n' + '€'.repeat(10);
    const run = new ShellRunner().start(
      ctx({ runIds: [5], runs: [parent(5, 1, { outputTail: output, exitCode: 4 })] }),
      {
        command: 'printf "%s|%s|%s" "$GOCRON_PARENT_RUN_IDS" "$GOCRON_PARENT_EXIT_CODE_1" "$GOCRON_PARENT_OUTPUT_1"',
        env: {},
      },
    );
    const result = await run.done;
    expect(result).toMatchObject({ status: 'succeeded', output: `5|4|${output}` });
  });
});
