/**
 * `[executor] allowed_commands` patterns: `*` matches any run of characters (spaces and `/` included), `?` exactly
 * one, everything else itself; a pattern must match the whole command, leading and trailing blanks trimmed. There is
 * no escape and no character class: a pattern that is too wide is the operator's choice, not a parsing surprise.
 */
export function compileCommandGlob(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern.trim()) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += ch.replace(/[\\^$.|+()[\]{}/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}

/** Empty list: every command is allowed. */
export function commandAllowed(command: string, patterns: readonly RegExp[]): boolean {
  if (patterns.length === 0) return true;
  const trimmed = command.trim();
  return patterns.some((re) => re.test(trimmed));
}
