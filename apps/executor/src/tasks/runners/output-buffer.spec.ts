import { OutputBuffer } from './output-buffer';

const MARKER = /\n… \[(\d+) bytes omitted\] …\n/;

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

describe('OutputBuffer', () => {
  it('returns everything while within the limit', () => {
    const out = new OutputBuffer(1024);
    out.append('hello ');
    out.append(Buffer.from('world\n'));
    expect(out.toString()).toBe('hello world\n');
    expect(out.truncated).toBe(false);
  });

  it('is not truncated at exactly the limit, and is one byte later', () => {
    const out = new OutputBuffer(200);
    out.append('a'.repeat(200));
    expect(out.toString()).toBe('a'.repeat(200));
    expect(out.truncated).toBe(false);
    out.append('b');
    expect(out.truncated).toBe(true);
    expect(bytes(out.toString())).toBeLessThanOrEqual(200);
  });

  it('keeps the head and the tail around a marker counting what was dropped', () => {
    const out = new OutputBuffer(1000);
    let total = 0;
    for (let i = 0; i < 5000; i++) {
      const line = `line ${i}\n`;
      out.append(line);
      total += bytes(line);
    }
    const text = out.toString();
    expect(out.truncated).toBe(true);
    expect(text.startsWith('line 0\nline 1\n')).toBe(true);
    expect(text.endsWith('line 4998\nline 4999\n')).toBe(true);
    const match = MARKER.exec(text);
    expect(match).not.toBeNull();
    const [head, tail] = text.split(match![0]);
    expect(bytes(head) + bytes(tail) + Number(match![1])).toBe(total);
    expect(bytes(text)).toBeLessThanOrEqual(1000);
    // Both halves get a fair share of the room left by the marker.
    expect(bytes(head)).toBeGreaterThan(400);
    expect(bytes(tail)).toBeGreaterThan(400);
  });

  it('stays within the limit for a single chunk larger than the limit', () => {
    const out = new OutputBuffer(256);
    out.append('x'.repeat(100) + 'y'.repeat(10_000) + 'z'.repeat(100));
    const text = out.toString();
    expect(bytes(text)).toBeLessThanOrEqual(256);
    expect(text).toMatch(/^x+y*\n… \[\d+ bytes omitted\] …\ny*z+$/);
  });

  it('stays bounded however much is appended', () => {
    const out = new OutputBuffer(64 * 1024);
    const chunk = Buffer.alloc(64 * 1024 + 7, 'q');
    for (let i = 0; i < 800; i++) out.append(chunk); // ~50 MB
    out.append('END');
    const text = out.toString();
    expect(bytes(text)).toBeLessThanOrEqual(64 * 1024);
    expect(text.endsWith('qEND')).toBe(true);
    const marker = MARKER.exec(text)![0];
    const shown = bytes(text) - bytes(marker);
    expect(Number(MARKER.exec(text)![1])).toBe(800 * chunk.length + 3 - shown);
  });

  it('keeps multi-byte characters that arrive split across chunks', () => {
    const out = new OutputBuffer(1024);
    for (const byte of Buffer.from('€ and 🙂')) out.append(Buffer.from([byte]));
    expect(out.toString()).toBe('€ and 🙂');
  });

  it('cuts between characters, never through one', () => {
    for (let limit = 128; limit < 140; limit++) {
      const out = new OutputBuffer(limit);
      for (let i = 0; i < 200; i++) out.append('é€🙂');
      const text = out.toString();
      expect(text).not.toContain('\uFFFD');
      expect(bytes(text)).toBeLessThanOrEqual(limit);
      const [head, tail] = text.split(MARKER.exec(text)![0]);
      expect(head).toMatch(/^(é€🙂)*(é|é€)?$/u);
      expect(tail).toMatch(/^(€🙂|🙂)?(é€🙂)*$/u);
    }
  });

  it('decodes invalid bytes as U+FFFD and still respects the limit', () => {
    const out = new OutputBuffer(200);
    out.append(Buffer.alloc(190, 0xff));
    const text = out.toString();
    expect(text).toContain('\uFFFD');
    expect(bytes(text)).toBeLessThanOrEqual(200);
    expect(out.truncated).toBe(true);
  });

  it('rejects a limit too small to hold the marker', () => {
    expect(() => new OutputBuffer(10)).toThrow(RangeError);
  });
});
