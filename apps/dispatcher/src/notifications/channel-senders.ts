import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import { createTransport, type Transporter } from 'nodemailer';
import { EgressPolicy, EgressRefused } from '@app/common';
import type { NotifyChannel } from '@app/persistence';
import { Delivery, signature, subject, summary, webhookBody } from './notification-body';

/** Each request (or SMTP stage) is given this long. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * A delivery that did not go through. `permanent`: another attempt would fail the same way (an egress refusal, a
 * target that is not a URL), so the row fails at once. The message never holds the target (URL or address).
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent = false,
  ) {
    super(message);
  }
}

export interface ChannelSender {
  send(d: Delivery, now: number): Promise<void>;
}

/** `text` with the parts of `secretish` (a URL's whole, host, path, query, user info) replaced by `***`. */
export function scrub(text: string, secretish: string): string {
  const pieces = new Set<string>([secretish]);
  try {
    const u = new URL(secretish);
    for (const p of [u.href, u.host, u.hostname, u.pathname + u.search, u.search, u.username, u.password]) {
      if (p && p !== '/' && p.length >= 3) pieces.add(decodeURIComponent(p)).add(p);
    }
  } catch {
    // not a URL: the whole of it only
  }
  let out = text;
  for (const p of [...pieces].filter((x) => x.length >= 3).sort((a, b) => b.length - a.length)) {
    out = out.split(p).join('***');
  }
  return out;
}

/** Why a request failed, in words that name no part of the URL. */
function describeFailure(e: unknown, url: string): string {
  if (e instanceof DeliveryError) return e.message;
  if (e instanceof EgressRefused) return e.message;
  const err = e as NodeJS.ErrnoException;
  return scrub(err.code ? `${err.code}: ${err.message}` : String(err.message ?? e), url);
}

/**
 * POSTs `body` to `url` under the egress policy (checked on the address connected to, after DNS resolution; an
 * address literal before connecting), no redirect followed, within DELIVERY_TIMEOUT_MS. Resolves on a 2xx.
 */
export function post(
  policy: EgressPolicy,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<void> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new DeliveryError('the target is not a URL', true));
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return Promise.reject(new DeliveryError('the target is not an http or https URL', true));
  }
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  const literal = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(literal) !== 0) {
    const why = policy.refusal(literal, port);
    if (why) return Promise.reject(new DeliveryError(`egress refused: ${why}`, true));
  }
  const send = u.protocol === 'https:' ? https.request : http.request;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (e: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e === null) return resolve();
      const permanent = e instanceof EgressRefused || (e instanceof DeliveryError && e.permanent);
      reject(new DeliveryError(describeFailure(e, url), permanent));
    };
    const req = send(
      u,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'gocron-ts', ...headers },
        // No keep-alive: a notification is rare, and a kept socket would skip the address check of the next one.
        agent: false,
        lookup: policy.lookupFor(port, 'the target host'),
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        res.once('end', () =>
          done(status >= 200 && status < 300 ? null : new DeliveryError(redirectOrStatus(status, res.headers))),
        );
        res.once('error', done);
      },
    );
    req.once('socket', (socket) => {
      socket.once('connect', () => {
        const why = socket.remoteAddress ? policy.refusal(socket.remoteAddress, port) : null;
        if (why) req.destroy(new EgressRefused(`egress refused: ${why}`));
      });
    });
    const timer = setTimeout(() => req.destroy(new DeliveryError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', done);
    req.end(body);
  });
}

function redirectOrStatus(status: number, headers: http.IncomingHttpHeaders): string {
  if (status >= 300 && status < 400 && headers.location) return `HTTP ${status}: redirects are not followed`;
  return `HTTP ${status} from the receiver`;
}

/** POST of the JSON body, signed when `[notify] webhook_secret` is set. */
export class WebhookSender implements ChannelSender {
  constructor(
    private readonly policy: EgressPolicy,
    private readonly secret: string,
    private readonly dispatcherId: string,
  ) {}

  send(d: Delivery, now: number): Promise<void> {
    const raw = JSON.stringify(webhookBody(d, this.dispatcherId, now));
    const headers: Record<string, string> = {
      'x-gocron-delivery': d.deliveryId,
      'x-gocron-event': d.facts.event,
    };
    if (this.secret) headers['x-gocron-signature'] = signature(this.secret, raw);
    return post(this.policy, d.target, raw, headers);
  }
}

/** A Slack-compatible incoming webhook: `{text}`. */
export class SlackSender implements ChannelSender {
  constructor(private readonly policy: EgressPolicy) {}

  send(d: Delivery): Promise<void> {
    return post(this.policy, d.target, JSON.stringify({ text: summary(d) }), {
      'x-gocron-delivery': d.deliveryId,
      'x-gocron-event': d.facts.event,
    });
  }
}

/** Email over `[notify] smtp_url` (nodemailer), from `mail_from` to the row's addresses. */
export class EmailSender implements ChannelSender {
  private transport: Transporter | null = null;

  constructor(
    private readonly smtpUrl: string,
    private readonly from: string,
  ) {}

  async send(d: Delivery): Promise<void> {
    if (!this.smtpUrl) throw new DeliveryError('[notify] smtp_url is not set', true);
    let to: string[];
    try {
      to = (JSON.parse(d.target) as unknown[]).map(String);
    } catch {
      throw new DeliveryError('the target is not a list of addresses', true);
    }
    this.transport ??= createTransport({
      url: this.smtpUrl,
      connectionTimeout: DELIVERY_TIMEOUT_MS,
      greetingTimeout: DELIVERY_TIMEOUT_MS,
      socketTimeout: DELIVERY_TIMEOUT_MS,
    } as Parameters<typeof createTransport>[0]);
    try {
      await this.transport.sendMail({
        from: this.from,
        to,
        subject: subject(d),
        text: summary(d),
        headers: { 'X-Gocron-Delivery': d.deliveryId, 'X-Gocron-Event': d.facts.event },
      });
    } catch (e) {
      // The SMTP URL holds a password: nothing of it (nor an address) reaches the row's error.
      let message = describeFailure(e, this.smtpUrl);
      for (const address of to) message = message.split(address).join('***');
      throw new DeliveryError(message);
    }
  }

  close(): void {
    this.transport?.close();
  }
}

export type ChannelSenders = Record<NotifyChannel, ChannelSender>;
