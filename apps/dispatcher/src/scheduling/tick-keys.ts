/** The ledger's tickKey of a scheduled tick: its instant in whole seconds (the same on every dispatcher). */
export function tickKeyOf(scheduledAt: number): string {
  return String(Math.floor(scheduledAt / 1000));
}
