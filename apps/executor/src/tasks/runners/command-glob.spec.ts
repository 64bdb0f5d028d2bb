import { commandAllowed, compileCommandGlob } from './command-glob';

describe('allowed_commands globs', () => {
  const allowed = (command: string, ...patterns: string[]) => commandAllowed(command, patterns.map(compileCommandGlob));

  it('allows everything without patterns', () => {
    expect(allowed('rm -rf /')).toBe(true);
  });

  it('matches the whole trimmed command, * across spaces and slashes, ? one character', () => {
    expect(allowed('  /usr/local/bin/backup --all  ', '/usr/local/bin/*')).toBe(true);
    expect(allowed('/usr/local/bin/backup; rm -rf /', '/usr/local/bin/backup')).toBe(false);
    expect(allowed('/usr/local/bin/backup; rm -rf /', '/usr/local/bin/backup*')).toBe(true); // * is that wide
    expect(allowed('echo /usr/local/bin/x', '/usr/local/bin/*')).toBe(false);
    expect(allowed('report-7', 'report-?')).toBe(true);
    expect(allowed('report-77', 'report-?')).toBe(false);
    expect(allowed('report-é', 'report-?')).toBe(true);
  });

  it('takes every other character literally', () => {
    expect(allowed('a.b', 'a.b')).toBe(true);
    expect(allowed('axb', 'a.b')).toBe(false);
    expect(allowed('x (y) [z] {1} a+b $HOME ^', 'x (y) [z] {1} a+b $HOME ^')).toBe(true);
    expect(allowed('xx', 'x+')).toBe(false);
    expect(allowed('a\\b', 'a\\b')).toBe(true);
  });

  it('allows a command any one pattern matches', () => {
    expect(allowed('backup db', 'echo *', 'backup *')).toBe(true);
    expect(allowed('backup', 'echo *', 'backup *')).toBe(false);
  });
});
