// Sleeping to an instant: the benchmarks line their windows up with whole seconds of the wall clock.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export const sleepUntil = (t: number): Promise<void> => sleep(t - Date.now());

/** The next whole second at least `seconds` from now. */
export const wholeSecondAfter = (seconds: number): number => Math.ceil((Date.now() + seconds * 1000) / 1000) * 1000;
