/** How a schedule produces fire instants; epoch milliseconds in, epoch milliseconds out. */
export interface FirePlan {
  /** First fire instant strictly after `after`, or null when none lies within the search horizon. */
  nextAfter(after: number): number | null;
  /** Number of fire instants in (after, until], stopping at `cap`. */
  countBetween(after: number, until: number, cap: number): number;
}

// Date's representable range; anything beyond cannot be handed back as a Date.
export const MAX_INSTANT = 8.64e15;
