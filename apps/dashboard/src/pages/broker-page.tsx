// The RabbitMQ transport (GET /api/broker): the dispatcher's link to the broker, the queues it knows of with their
// counts, and the dead letters it handled. With no [rabbitmq] url the page says the transport is off.
import type { BrokerDeadLetterJson, BrokerJson } from '@app/contract';
import { api } from '../lib/api';
import { formatCount, formatGroups, queueRole } from '../lib/broker-view';
import { formatDateTime, formatShort } from '../lib/format';
import { href } from '../hooks/router';
import { useInterval } from '../hooks/live';
import { useResource } from '../hooks/use-resource';
import { Empty, ErrorState, Loading } from '../components/states';
import './cluster-page.css';
import './broker-page.css';

export function BrokerPage() {
  const broker = useResource((signal) => api.broker(signal), []);
  // Queue depths and the connection have no events of their own: look every 5 s, as the cluster page does.
  useInterval(broker.reload, 5000);
  const b = broker.data;

  return (
    <>
      <header className="page-header">
        <h1>Broker</h1>
      </header>
      {broker.error !== undefined && <ErrorState error={broker.error} retry={broker.reload} what="the broker" />}
      {broker.loading && !b && <Loading what="the broker" />}
      {b && !b.enabled && (
        <Empty title="RabbitMQ transport is off: set [rabbitmq] url">
          <p>
            Every group is dispatched over gRPC. With <code>[rabbitmq] url</code> (or <code>GOCRON_RABBITMQ_URL</code>
            ), the groups of <code>[rabbitmq] groups</code> wait in durable queues instead.
          </p>
        </Empty>
      )}
      {b && b.enabled && (
        <div className="broker-cards">
          <Connection b={b} />
          <Queues b={b} loading={broker.loading} />
          <DeadLetters b={b} />
        </div>
      )}
    </>
  );
}

function Connection({ b }: { b: BrokerJson }) {
  return (
    <section className="card" aria-labelledby="broker-connection-title" data-connected={b.connected}>
      <h2 id="broker-connection-title">
        Connection{' '}
        <span className={`badge ${b.connected ? 'badge-on' : 'badge-warn'}`}>
          {b.connected ? 'connected' : 'not connected'}
        </span>
      </h2>
      <dl className="facts">
        <div className="fact-row">
          <dt>URL</dt>
          <dd className="mono" data-field="url">
            {b.url}
          </dd>
        </div>
        <div className="fact-row">
          <dt>Groups</dt>
          <dd data-field="groups">{formatGroups(b.groups)}</dd>
        </div>
        <div className="fact-row">
          <dt>Prefix</dt>
          <dd className="mono">{b.prefix}</dd>
        </div>
        <div className="fact-row">
          <dt>Last error</dt>
          <dd className={b.lastError ? 'error-text' : 'muted'}>{b.lastError ?? '—'}</dd>
        </div>
      </dl>
      <p className="hint">Of the dispatcher serving this page. The password is never shown.</p>
    </section>
  );
}

function Queues({ b, loading }: { b: BrokerJson; loading: boolean }) {
  return (
    <section className="card" aria-labelledby="broker-queues-title">
      <h2 id="broker-queues-title">Queues</h2>
      <div className="table-wrap">
        <table className="table responsive table-queues" aria-busy={loading}>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Kind</th>
              <th scope="col">Ready</th>
              <th scope="col">Unacked</th>
              <th scope="col">Consumers</th>
            </tr>
          </thead>
          <tbody>
            {b.queues.map((q) => (
              <tr key={q.name} data-queue={q.name} data-kind={q.kind}>
                <td data-label="Queue">
                  <span className="mono">{q.name}</span>
                  {q.error && <p className="audit-detail error-text">{q.error}</p>}
                </td>
                <td data-label="Kind">{queueRole(q)}</td>
                <td data-label="Ready">{formatCount(q.ready)}</td>
                <td data-label="Unacked" title="AMQP does not report it; executors ack as soon as a run has started">
                  {formatCount(q.unacked)}
                </td>
                <td data-label="Consumers">{formatCount(q.consumers)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="hint">
        Runs queues of the broker groups that have jobs or executors, the control queues of listed executors, and the
        dead-letter queue.
      </p>
    </section>
  );
}

function DeadLetters({ b }: { b: BrokerJson }) {
  const { queued, handled, recent } = b.deadLettered;
  return (
    <section className="card" aria-labelledby="broker-dead-title">
      <div className="section-header">
        <h2 id="broker-dead-title">Dead letters</h2>
        <span className="muted" data-field="dead-counts">
          {formatCount(queued)} queued · {handled} handled by this dispatcher
        </span>
      </div>
      {recent.length === 0 ? (
        <p className="muted">None handled since this dispatcher started.</p>
      ) : (
        <div className="table-wrap">
          <table className="table responsive table-dead-letters">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Reason</th>
                <th scope="col">From queue</th>
                <th scope="col">Run</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {recent.map((d, i) => (
                <tr key={`${d.at}/${i}`} data-dead-letter={d.runId ?? ''}>
                  <td data-label="When">
                    <time dateTime={d.at} title={formatDateTime(d.at)}>
                      {formatShort(d.at)}
                    </time>
                  </td>
                  <td data-label="Reason">
                    <code>{d.reason}</code>
                  </td>
                  <td data-label="From queue" className="mono">
                    {d.queue}
                  </td>
                  <td data-label="Run">
                    <RunLink d={d} />
                  </td>
                  <td data-label="Outcome">{d.outcome}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function RunLink({ d }: { d: BrokerDeadLetterJson }) {
  if (d.runId === null) return <span className="muted">—</span>;
  if (d.jobId === null) return <span>run #{d.runId}</span>;
  return <a href={href(`/jobs/${d.jobId}/runs/${d.runId}`)}>run #{d.runId}</a>;
}
