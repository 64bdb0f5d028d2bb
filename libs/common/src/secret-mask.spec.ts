import { maskSecrets } from './secret-mask';

const CUT = /\n… \[\d+ bytes omitted\] …\n/;

describe('maskSecrets', () => {
  it('masks every occurrence, longest value first, and leaves short values alone', () => {
    expect(maskSecrets('a=hunter2 b=hunter2', ['hunter2'])).toBe('a=*** b=***');
    expect(maskSecrets('token=abcdef123', ['abcd', 'abcdef123'])).toBe('token=***');
    expect(maskSecrets('yes no 1', ['yes', '1', ''])).toBe('yes no 1');
    expect(maskSecrets('', ['abcd'])).toBe('');
  });

  it('masks the pieces of a value split by the omitted-bytes marker', () => {
    const secret = 'splitSecret-Hb5Ju8';
    const text = `head ${secret.slice(0, 8)}\n… [100 bytes omitted] …\n${secret.slice(8)} tail`;
    const masked = maskSecrets(text, [secret], CUT);
    expect(masked).toBe('head ***\n… [100 bytes omitted] …\n*** tail');
    // Pieces shorter than 4 characters are too short to tell from any output.
    expect(maskSecrets(`x spl\n… [1 bytes omitted] …\nrest`, [secret], CUT)).toBe(`x spl\n… [1 bytes omitted] …\nrest`);
  });

  it('masks a value written in several chunks, once the text is whole', () => {
    const chunks = ['abc', 'defg', 'hij'];
    expect(maskSecrets(chunks.join(''), ['bcdefghi'])).toBe('a***j');
  });
});

describe('maskSecrets with overlapping values', () => {
  it('masks the whole stretch two overlapping values cover, leaving no piece of either', () => {
    expect(maskSecrets('x aaaaXXXXyyyyyyy y', ['aaaaXXXX', 'XXXXyyyyyyy'])).toBe('x *** y');
    expect(maskSecrets('abcdefgh12345678901!', ['abcdefgh12', 'gh12345678901'])).toBe('***!');
    expect(maskSecrets('s3cr3t and s3cr3t', ['s3cr3t'])).toBe('*** and ***');
  });
});
