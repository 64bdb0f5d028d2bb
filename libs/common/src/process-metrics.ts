import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * How often the event-loop delay is sampled for `nodejs_eventloop_lag_*`. prom-client's default of 10 ms woke an
 * idle dispatcher or executor 100 times a second for that alone (a third of an idle executor's CPU); at 100 ms a
 * stall still shows in the lag figures whenever it holds up a sample, and the process sleeps between samples.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** prom-client's `process_*` and `nodejs_*` metrics on `registry`, sampled as EVENT_LOOP_SAMPLE_MS says. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
