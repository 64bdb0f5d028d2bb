import { fieldOf, splitByField } from './field-errors';

const FIELDS = ['name', 'cron', 'timezone', 'retries', 'retryBackoffMs', 'http', 'http.url', 'http.expectStatus'];

describe('field errors', () => {
  it.each([
    ['name should not be empty', 'name'],
    ["timezone: unknown IANA time zone 'Mars/Base'", 'timezone'],
    ['cron: never fires: day 30 of February', 'cron'],
    ['http.url must be an http or https URL', 'http.url'],
    ['http is required for an http job', 'http'],
    ['retries must not be greater than 10', 'retries'],
    ['retryBackoffMs must be an integer number', 'retryBackoffMs'],
    ['http.each value in expectStatus must be an integer number', 'http.expectStatus'],
    ['property foo should not exist', null],
    ['names are nice', null],
  ])('%j → %s', (message, field) => {
    expect(fieldOf(message, FIELDS)).toBe(field);
  });

  it('keeps messages that name no field as general ones', () => {
    expect(splitByField(['name should not be empty', 'body: must be a JSON object', 'name too long'], FIELDS)).toEqual({
      byField: { name: ['name should not be empty', 'name too long'] },
      general: ['body: must be a JSON object'],
    });
  });
});
