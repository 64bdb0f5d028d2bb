import { SECRET_MASK } from '@app/common';

/**
 * The broker URL as it may be shown: `scheme://user:***@host:port/vhost`. The password is a credential: never in a
 * log line, a response, an error or health. An unparsable URL is shown as the mask alone.
 */
export function maskBrokerUrl(url: string): string {
  try {
    const u = new URL(url);
    const user = u.username ? `${decodeURIComponent(u.username)}:${SECRET_MASK}@` : '';
    const vhost = u.pathname && u.pathname !== '/' ? u.pathname : '';
    return `${u.protocol}//${user}${u.host}${vhost}`;
  } catch {
    return SECRET_MASK;
  }
}

/** `text` (an error from the client library) with the URL and its password replaced, whatever they say. */
export function maskBrokerText(text: string, url: string): string {
  let out = text.split(url).join(maskBrokerUrl(url));
  try {
    const u = new URL(url);
    for (const secret of new Set([u.password, decodeURIComponent(u.password)])) {
      // A password of a few characters would blank out unrelated words; those of 3 and more are replaced.
      if (secret.length >= 3) out = out.split(secret).join(SECRET_MASK);
    }
  } catch {
    // not a URL: nothing more to find in it
  }
  return out;
}
