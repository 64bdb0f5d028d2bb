import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Request } from 'express';
import { loadConfig } from '@app/config';
import { allowedHosts, hostName, isJsonOrEmpty, normalHost } from './edge';

const CONF = join(__dirname, '../../../../conf/conf.ini');

describe('hostName', () => {
  it('reads name, name:port and [v6][:port], lower-cased, without the port', () => {
    expect(hostName('localhost')).toBe('localhost');
    expect(hostName('Example.COM:8080')).toBe('example.com');
    expect(hostName('127.0.0.1:80')).toBe('127.0.0.1');
    expect(hostName(' cron_1.example-a.com:65535 ')).toBe('cron_1.example-a.com');
    expect(hostName('[::1]:8080')).toBe('::1');
    expect(hostName('[::1]')).toBe('::1');
    expect(hostName('[FE80::1]:443')).toBe('fe80::1');
    expect(hostName('[::ffff:127.0.0.1]:8080')).toBe('::ffff:127.0.0.1');
  });

  it('refuses what no browser sends: a userinfo, a path, a port that is not digits, text after the brackets', () => {
    for (const value of [
      'localhost:80@evil',
      'evil@localhost',
      'user:pw@localhost:8080',
      'localhost/evil',
      'localhost:8080/evil',
      'localhost?x=1',
      'localhost#x',
      'localhost:evil',
      'localhost:',
      'localhost:80:80',
      'localhost:123456',
      'localhost:-1',
      '[::1].evil.com',
      '[::1]evil',
      '[::1]:evil',
      '[::1',
      '::1',
      '[evil.com]',
      'local host',
      '',
    ]) {
      expect([value, hostName(value)]).toEqual([value, null]);
    }
  });
});

describe('normalHost', () => {
  it('drops the port and lower-cases', () => {
    expect(normalHost('Example.COM:8080')).toBe('example.com');
    expect(normalHost('example.com')).toBe('example.com');
    expect(normalHost('127.0.0.1:80')).toBe('127.0.0.1');
    expect(normalHost('  LocalHost:8080 ')).toBe('localhost');
  });

  it('unwraps bracketed IPv6, with or without a port; leaves a bare IPv6 address whole', () => {
    expect(normalHost('[::1]:8080')).toBe('::1');
    expect(normalHost('[::1]')).toBe('::1');
    expect(normalHost('[FE80::1]:8080')).toBe('fe80::1');
    expect(normalHost('::1')).toBe('::1');
    expect(normalHost('fe80::a:b')).toBe('fe80::a:b');
  });

  it('keeps a bare IPv6 address as an allowed host hostName answers with (hostName itself refuses one)', () => {
    for (const v6 of ['::1', '::', 'FE80::1', '2001:db8::8:800:200c:417a', '::ffff:127.0.0.1']) {
      expect([v6, normalHost(v6)]).toEqual([v6, v6.toLowerCase()]);
      expect([v6, normalHost(v6)]).toEqual([v6, hostName(`[${v6}]:8080`)]);
    }
  });
});

describe('isJsonOrEmpty', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as Request;

  it('takes JSON, +json types and a charset parameter, in any case', () => {
    expect(isJsonOrEmpty(req({ 'content-type': 'application/json' }))).toBe(true);
    expect(isJsonOrEmpty(req({ 'content-type': 'application/json; charset=utf-8' }))).toBe(true);
    expect(isJsonOrEmpty(req({ 'content-type': 'Application/JSON;charset=UTF-8' }))).toBe(true);
    expect(isJsonOrEmpty(req({ 'content-type': 'application/merge-patch+json' }))).toBe(true);
    expect(isJsonOrEmpty(req({ 'content-type': 'application/vnd.gocron.v1+json; charset=utf-8' }))).toBe(true);
  });

  it('refuses what a foreign page can send without a preflight, and look-alikes of JSON', () => {
    for (const type of [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----x',
      'application/jsonp',
      'application/json-seq',
      'text/json',
      'application/xml',
      '',
    ]) {
      expect([type, isJsonOrEmpty(req({ 'content-type': type, 'content-length': '2' }))]).toEqual([type, false]);
    }
  });

  it('takes no Content-Type only without a body', () => {
    expect(isJsonOrEmpty(req({}))).toBe(true);
    expect(isJsonOrEmpty(req({ 'content-length': '0' }))).toBe(true);
    expect(isJsonOrEmpty(req({ 'content-length': '12' }))).toBe(false);
    expect(isJsonOrEmpty(req({ 'transfer-encoding': 'chunked' }))).toBe(false);
    expect(isJsonOrEmpty(req({ 'transfer-encoding': 'chunked', 'content-length': '0' }))).toBe(false);
    // A chunked JSON body is fine: its type says what it is.
    expect(isJsonOrEmpty(req({ 'transfer-encoding': 'chunked', 'content-type': 'application/json' }))).toBe(true);
  });
});

describe('allowedHosts', () => {
  it('defaults to the configured host and the loopback names', () => {
    expect(allowedHosts(loadConfig(CONF, {}))).toEqual(new Set(['localhost', '127.0.0.1', '::1']));
    const named = loadConfig(CONF, { GOCRON_DISPATCHER_HOST: 'Cron.Example.com' });
    expect(allowedHosts(named)).toEqual(new Set(['localhost', '127.0.0.1', '::1', 'cron.example.com']));
  });

  it('is exactly [dispatcher] allowed_hosts when set (normalized), and off with *', () => {
    const c = loadConfig(CONF, { GOCRON_DISPATCHER_ALLOWED_HOSTS: 'cron.example.com, Other.Example.com:8443, [::1]' });
    expect(allowedHosts(c)).toEqual(new Set(['cron.example.com', 'other.example.com', '::1']));
    expect(allowedHosts(loadConfig(CONF, { GOCRON_DISPATCHER_ALLOWED_HOSTS: '*' }))).toBeNull();
    expect(allowedHosts(loadConfig(CONF, { GOCRON_DISPATCHER_ALLOWED_HOSTS: 'a.example.com,*' }))).toBeNull();
  });

  it("bound to every interface, adds this machine's name and interface addresses", () => {
    const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
    expect(addresses.length).toBeGreaterThan(0);
    for (const bind of ['0.0.0.0', '::']) {
      const hosts = allowedHosts(loadConfig(CONF, { GOCRON_DISPATCHER_HOST: bind }))!;
      expect(hosts).toEqual(
        new Set(['localhost', '127.0.0.1', '::1', bind, hostname().toLowerCase(), ...addresses.map(normalHost)]),
      );
    }
    // Not for a specific address.
    expect(allowedHosts(loadConfig(CONF, { GOCRON_DISPATCHER_HOST: '10.1.2.3' }))).toEqual(
      new Set(['localhost', '127.0.0.1', '::1', '10.1.2.3']),
    );
  });
});
