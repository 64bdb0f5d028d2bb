import { DispatcherMetrics } from './dispatcher-metrics';

describe('DispatcherMetrics', () => {
  it('escapes label values and reads gauges at scrape time', async () => {
    const m = new DispatcherMetrics();
    let running = 2;
    m.gauge('gocron_test_running', 'a gauge', ['group'] as const, (set) => set({ group: 'we"ird\\group\n' }, running));
    m.startLag.observe({ group: 'default' }, 0.02);
    m.ticksMisfired.inc({ outcome: 'skipped' }, 5);
    const first = await m.registry.metrics();
    expect(first).toContain('gocron_test_running{group="we\\"ird\\\\group\\n"} 2');
    expect(first).toMatch(/^gocron_run_start_lag_seconds_bucket\{le="0.025",group="default"\} 1$/m);
    expect(first).toMatch(/^gocron_ticks_misfired_total\{outcome="skipped"\} 5$/m);
    expect(first).toMatch(/^process_cpu_seconds_total /m);
    running = 7;
    expect(await m.registry.metrics()).toContain('gocron_test_running{group="we\\"ird\\\\group\\n"} 7');
  });
});
