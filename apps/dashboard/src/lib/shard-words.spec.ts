import { ownerNote, shardCount, shardRanges } from './shard-words';

describe('shard words', () => {
  it.each([
    [0, 'no shards'],
    [1, '1 shard'],
    [86, '86 shards'],
    [256, '256 shards'],
  ])('shardCount(%p) is %p', (n, text) => {
    expect(shardCount(n)).toBe(text);
  });

  it('folds consecutive shards into runs', () => {
    expect(shardRanges(Array.from({ length: 256 }, (_, n) => n))).toBe('0–255');
    expect(shardRanges([0, 1, 2, 3, 7, 9, 10])).toBe('0–3, 7, 9–10');
    expect(shardRanges([5])).toBe('5');
    expect(shardRanges([])).toBe('none');
  });

  it('sorts the shards and counts each once, whatever order the API gave', () => {
    expect(shardRanges([200, 3, 1, 2, 2, 255, 199])).toBe('1–3, 199–200, 255');
  });

  it('says why a job has no owner, and nothing when it has one', () => {
    expect(ownerNote({ enabled: true, owner: 'dispatcher-1' })).toBeNull();
    expect(ownerNote({ enabled: false, owner: null })).toBe('none while paused');
    expect(ownerNote({ enabled: true, owner: null })).toBe("not known: this dispatcher's view of etcd is not live");
  });
});
