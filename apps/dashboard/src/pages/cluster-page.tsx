// Executors and dispatchers: what is up, in which group, how busy, for how long, which shards of the jobs each
// dispatcher plans; and the dispatcher's health.
import { api } from '../lib/api';
import { formatDateTime, formatSpan, humanize } from '../lib/format';
import { shardCount, shardRanges } from '../lib/shard-words';
import { useInterval, useLiveRefresh } from '../hooks/live';
import { useNow } from '../hooks/use-now';
import { useResource } from '../hooks/use-resource';
import { Empty, ErrorState, Loading } from '../components/states';
import './cluster-page.css';

/** "86 shards", which opens to their numbers ("0–85"); also the summary's title, for a hover. */
function Shards({ shards }: { shards: number[] }) {
  if (shards.length === 0) return <span className="muted">{shardCount(0)}</span>;
  const ranges = shardRanges(shards);
  return (
    <details className="shard-list">
      <summary title={`shards ${ranges}`}>{shardCount(shards.length)}</summary>
      <span className="mono">{ranges}</span>
    </details>
  );
}

function Uptime({ since }: { since: string }) {
  const now = useNow();
  return (
    <time dateTime={since} title={`up since ${formatDateTime(since)}`}>
      {formatSpan(now - Date.parse(since))}
    </time>
  );
}

export function ClusterPage() {
  const executors = useResource((signal) => api.executors(signal), []);
  const dispatchers = useResource((signal) => api.dispatchers(signal), []);
  const health = useResource((signal) => api.health(signal), []);
  // Membership has no events: look every 5 s; running counts also move with run events.
  useInterval(() => {
    executors.reload();
    dispatchers.reload();
    health.reload();
  }, 5000);
  useLiveRefresh(executors.reload, (e) => e.type === 'run');

  const list = [...(executors.data ?? [])].sort((a, b) => a.group.localeCompare(b.group) || a.id.localeCompare(b.id));
  const capacity = list.reduce((n, e) => n + e.capacity, 0);
  const running = list.reduce((n, e) => n + e.running, 0);

  return (
    <>
      <header className="page-header">
        <h1>Cluster</h1>
      </header>

      <section className="card" aria-labelledby="executors-title">
        <div className="section-header">
          <h2 id="executors-title">Executors</h2>
          {list.length > 0 && (
            <span className="muted">
              {list.length} up · {running} of {capacity} slots busy
            </span>
          )}
        </div>
        {executors.error !== undefined && (
          <ErrorState error={executors.error} retry={executors.reload} what="executors" />
        )}
        {executors.loading && !executors.data && <Loading what="executors" />}
        {executors.data && list.length === 0 && (
          <Empty title="No executor is up: runs wait as pending until one is.">
            <p>
              Start one with <code>node dist/apps/executor/main.js</code>. With static discovery the dispatcher dials
              the addresses in <code>[executor] static_targets</code>; with etcd, executors register themselves.
            </p>
          </Empty>
        )}
        {list.length > 0 && (
          <div className="table-wrap">
            <table className="table responsive table-executors">
              <thead>
                <tr>
                  <th scope="col">Executor</th>
                  <th scope="col">Address</th>
                  <th scope="col">Group</th>
                  <th scope="col">Running</th>
                  <th scope="col">Capacity</th>
                  <th scope="col">Uptime</th>
                </tr>
              </thead>
              <tbody>
                {list.map((e) => (
                  <tr key={`${e.group}/${e.id}`} data-executor={e.id}>
                    <td data-label="Executor" className="mono">
                      {e.id}
                    </td>
                    <td data-label="Address" className="mono">
                      {e.address}
                    </td>
                    <td data-label="Group">{e.group}</td>
                    <td data-label="Running">
                      <span className="meter-cell">
                        <meter
                          min={0}
                          max={e.capacity}
                          value={e.running}
                          aria-label={`${e.running} of ${e.capacity} busy`}
                        />
                        {e.running}
                      </span>
                    </td>
                    <td data-label="Capacity">{e.capacity}</td>
                    <td data-label="Uptime">
                      <Uptime since={e.startedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <div className="cluster-bottom">
        <section className="card" aria-labelledby="dispatchers-title">
          <h2 id="dispatchers-title">Dispatchers</h2>
          {dispatchers.error !== undefined && (
            <ErrorState error={dispatchers.error} retry={dispatchers.reload} what="dispatchers" />
          )}
          {dispatchers.loading && !dispatchers.data && <Loading what="dispatchers" />}
          {dispatchers.data && dispatchers.data.length > 0 && (
            <div className="table-wrap">
              <table className="table responsive">
                <thead>
                  <tr>
                    <th scope="col">Dispatcher</th>
                    <th scope="col">Address</th>
                    <th scope="col">Shards</th>
                    <th scope="col">Uptime</th>
                  </tr>
                </thead>
                <tbody>
                  {dispatchers.data.map((d) => (
                    <tr key={d.id} data-dispatcher={d.id}>
                      <td data-label="Dispatcher" className="mono">
                        {d.id}
                      </td>
                      <td data-label="Address" className="mono">
                        {d.address}
                      </td>
                      <td data-label="Shards">
                        <Shards shards={d.shards} />
                      </td>
                      <td data-label="Uptime">
                        <Uptime since={d.startedAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <p className="hint">
            With static discovery a dispatcher knows only itself and holds all 256 shards; with etcd every dispatcher of
            the cluster is listed, each planning the jobs of the shards it holds.
          </p>
        </section>

        <section className="card" aria-labelledby="health-title">
          <h2 id="health-title">
            Health{' '}
            {health.data && (
              <span className={`badge ${health.data.status === 'ok' ? 'badge-on' : 'badge-warn'}`}>
                {health.data.status}
              </span>
            )}
          </h2>
          {health.error !== undefined && <ErrorState error={health.error} retry={health.reload} what="health" />}
          {health.data && (
            <dl className="facts">
              {Object.entries(health.data.checks).map(([name, c]) => (
                <div key={name} className="fact-row">
                  <dt>{humanize(name)}</dt>
                  <dd>
                    <span className={`dot dot-${c.status}`} aria-hidden="true" /> {c.status}{' '}
                    <span className="muted">· {c.detail}</span>
                  </dd>
                </div>
              ))}
            </dl>
          )}
          <p className="hint">
            Of the dispatcher serving this page. <a href="/metrics">Prometheus metrics</a> ·{' '}
            <a href="/api/docs">API docs</a>
          </p>
        </section>
      </div>
    </>
  );
}
