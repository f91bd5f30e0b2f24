/**
 * The server's adaptive batcher: while one model call runs, a second starts
 * only with a full batch (so a runtime in another thread always has its next
 * batch waiting under load), partial batches wait for a call to finish, and
 * every request gets back exactly its own rows.
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveBatcher } from '../tasks/serving/runtime/adaptive-batcher';

/** A model whose calls finish when the test says; each item's output is its input value, twice. */
function heldModel() {
  const calls: { items: number[]; finish: () => void }[] = [];
  const predict = (features: Float32Array, count: number) =>
    new Promise<Float32Array>((resolve) => {
      const items = Array.from(features.subarray(0, count));
      calls.push({ items, finish: () => resolve(Float32Array.from(items.flatMap((v) => [v, v]))) });
    });
  return { calls, predict };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('adaptive batcher', () => {
  it('starts a second call beside a running one only with a full batch; partial batches wait their turn', async () => {
    const model = heldModel();
    const batcher = new AdaptiveBatcher(model.predict, 1, 2, { maxBatchSize: 4 });
    const ask = (...values: number[]) => batcher.run(Float32Array.from(values), values.length);

    const first = ask(1);
    await turn();
    expect(model.calls.map((c) => c.items)).toEqual([[1]]);

    const partial = [ask(2), ask(3)];
    await turn();
    expect(model.calls).toHaveLength(1); // two items wait: not a full batch

    const full = ask(4, 5);
    await turn();
    expect(model.calls.map((c) => c.items)).toEqual([[1], [2, 3, 4, 5]]);

    const waiting = ask(6);
    await turn();
    expect(model.calls).toHaveLength(2); // two calls run: nothing more starts
    model.calls[1].finish();
    expect(await Promise.all(partial)).toEqual([Float32Array.from([2, 2]), Float32Array.from([3, 3])]);
    expect(await full).toEqual(Float32Array.from([4, 4, 5, 5]));
    await turn();
    expect(model.calls).toHaveLength(2); // one call still runs: a partial batch waits for it
    model.calls[0].finish();
    expect(await first).toEqual(Float32Array.from([1, 1]));
    await turn();
    expect(model.calls.map((c) => c.items)).toEqual([[1], [2, 3, 4, 5], [6]]);
    model.calls[2].finish();
    expect(await waiting).toEqual(Float32Array.from([6, 6]));
  });

  it('fails only the requests of a call that fails', async () => {
    let calls = 0;
    const batcher = new AdaptiveBatcher(async (features, count) => {
      if (++calls === 1) throw new Error('model failed');
      return new Float32Array(count * 2).fill(features[0]);
    }, 1, 2, { maxBatchSize: 2 });
    const failed = batcher.run(Float32Array.from([1]), 1);
    const fine = batcher.run(Float32Array.from([7, 7]), 2);
    await expect(failed).rejects.toThrow('model failed');
    expect(await fine).toEqual(new Float32Array(4).fill(7));
  });
});
