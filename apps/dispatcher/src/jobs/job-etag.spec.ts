import { BadRequestException } from '@nestjs/common';
import { etagOf, parseIfMatch } from './job-etag';

describe('If-Match and ETag of a job', () => {
  it('sends the version as a strong, quoted entity tag', () => {
    expect(etagOf(3)).toBe('"3"');
  });

  it('reads no header and * as any version', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch('*')).toBeUndefined();
    expect(parseIfMatch(' * ')).toBeUndefined();
  });

  it('reads quoted and bare versions and lists of them; a weak tag matches no version', () => {
    expect(parseIfMatch('"3"')).toEqual({ versions: [3], header: '"3"' });
    expect(parseIfMatch('3')).toEqual({ versions: [3], header: '3' });
    expect(parseIfMatch('"1", "5" ,,7')).toEqual({ versions: [1, 5, 7], header: '"1", "5" ,,7' });
    expect(parseIfMatch('W/"3"')).toEqual({ versions: [], header: 'W/"3"' });
    expect(parseIfMatch('W/"3", "4"')?.versions).toEqual([4]);
  });

  it.each(['', ' ', ',', 'abc', '"abc"', '"1', '1"', '*, "1"', 'W/1', '"-1"', '"1.5"', '"1 2"', '"1234567890123456"'])(
    'answers %j with a 400 naming the header',
    (header) => {
      expect(() => parseIfMatch(header)).toThrow(BadRequestException);
      expect(() => parseIfMatch(header)).toThrow(/^If-Match must be \* or a list of entity tags/);
    },
  );
});
