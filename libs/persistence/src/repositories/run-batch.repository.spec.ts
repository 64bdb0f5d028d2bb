import { boundedChunks } from './run-batch.repository';

describe('boundedChunks', () => {
  const size = (n: number) => n;

  it('keeps order and cuts by count and by size', () => {
    expect(boundedChunks([1, 1, 1, 1, 1], size, 100, 2)).toEqual([[1, 1], [1, 1], [1]]);
    expect(boundedChunks([40, 40, 40, 10], size, 100, 10)).toEqual([
      [40, 40],
      [40, 10],
    ]);
  });

  it('sends an item larger than the bound alone, never an empty chunk', () => {
    expect(boundedChunks([10, 500, 10], size, 100, 10)).toEqual([[10], [500], [10]]);
    expect(boundedChunks([], size, 100, 10)).toEqual([]);
  });
});
