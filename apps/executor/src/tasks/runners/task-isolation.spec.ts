import type { AppConfig } from '@app/config';
import { IsolationProbe, lookupUser, resolveTaskIsolation, TaskUser } from './task-isolation';

const executor = (over: Partial<AppConfig['executor']> = {}): AppConfig['executor'] =>
  ({ runAs: '', workdir: '', allowedCommands: [], ...over }) as AppConfig['executor'];

const task: TaskUser = { name: 'task', uid: 1001, gid: 1001, groups: [1001], home: '/home/task' };

function probe(over: Partial<IsolationProbe> = {}): IsolationProbe {
  return {
    isRoot: () => true,
    lookupUser: (name) => (name === 'task' ? task : null),
    canUsePidNamespace: () => true,
    ...over,
  };
}

describe('resolveTaskIsolation', () => {
  it('uses a PID namespace and the resolved run_as user when it can, without warnings', () => {
    const { isolation, warnings } = resolveTaskIsolation(executor({ runAs: 'task' }), probe());
    expect(isolation).toMatchObject({ mode: 'pid-namespace', user: task, workdir: '' });
    expect(warnings).toEqual([]);
  });

  it('refuses run_as naming a missing user, or when the executor is not root', () => {
    expect(() => resolveTaskIsolation(executor({ runAs: 'ghost' }), probe())).toThrow(
      "[executor] run_as: no such user 'ghost'",
    );
    expect(() => resolveTaskIsolation(executor({ runAs: 'task' }), probe({ isRoot: () => false }))).toThrow(
      '[executor] run_as: needs the executor to run as root',
    );
  });

  it('warns when tasks would run as root', () => {
    const { warnings } = resolveTaskIsolation(executor(), probe());
    expect(warnings).toEqual([expect.stringMatching(/run_as is empty: shell tasks run as root/)]);
  });

  it('falls back to a process group, naming what it does not contain', () => {
    const { isolation, warnings } = resolveTaskIsolation(
      executor({ runAs: 'task' }),
      probe({ canUsePidNamespace: () => false }),
    );
    expect(isolation.mode).toBe('process-group');
    expect(warnings).toEqual([
      expect.stringMatching(/process group, so a process that calls setsid outlives its run$/),
    ]);
    const notRoot = resolveTaskIsolation(executor(), probe({ isRoot: () => false }));
    expect(notRoot.isolation.mode).toBe('process-group');
    expect(notRoot.warnings).toEqual([expect.stringMatching(/can read \/proc\/<executor pid>\/environ/)]);
  });

  it('refuses a workdir that is not a directory, and compiles allowed_commands', () => {
    expect(() => resolveTaskIsolation(executor({ workdir: '/nonexistent/dir' }), probe())).toThrow(
      "[executor] workdir: '/nonexistent/dir' is not a directory",
    );
    const { isolation } = resolveTaskIsolation(executor({ allowedCommands: ['echo *'] }), probe());
    expect(isolation.allowedCommands.map((re) => re.test('echo hi'))).toEqual([true]);
  });
});

describe('lookupUser', () => {
  it('resolves a user of this machine with its groups, and nobody that does not exist', () => {
    expect(lookupUser('root')).toMatchObject({ name: 'root', uid: 0, gid: 0, home: '/root' });
    expect(lookupUser('root')?.groups).toContain(0);
    expect(lookupUser('gocron-no-such-user')).toBeNull();
  });
});
