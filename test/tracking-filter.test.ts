import { describe, expect, it } from 'vitest';
import { FilterError, parseFilter } from '../src/tracking/filter';
import { matchesFilter, parseOrderBy, type SearchableRun, sortRuns } from '../src/tracking/filter-match';

const run = (over: Partial<SearchableRun> = {}): SearchableRun => ({
  attributes: { run_id: 'r1', status: 'succeeded', flow: 'train', run_name: 'train', host: 'box', start_time: Date.parse('2026-12-01T10:00:00Z'), duration: 120_000 },
  params: { epochs: '5', lr: '0.002', name: 'mnist <script>' },
  tags: { stage: 'prod', 'team.owner': 'ml' },
  metrics: { test_accuracy: 0.9894, loss: 0.03 },
  ...over,
});

describe('parseFilter: MLflow grammar', () => {
  it('parses the issue example into clauses', () => {
    expect(parseFilter('metrics.test_accuracy > 0.98 and params.epochs = 5')).toEqual([
      { entity: 'metrics', key: 'test_accuracy', comparator: '>', value: 0.98 },
      { entity: 'params', key: 'epochs', comparator: '=', value: 5 },
    ]);
  });

  it('takes quoted keys, dotted keys, singular entities, LIKE, ILIKE, IN and NOT IN', () => {
    expect(parseFilter("tags.`team.owner` = 'ml'")[0]).toMatchObject({ entity: 'tags', key: 'team.owner', value: 'ml' });
    expect(parseFilter('tag.team.owner = "ml"')[0]).toMatchObject({ entity: 'tags', key: 'team.owner' });
    expect(parseFilter("params.name LIKE 'mnist%'")[0].comparator).toBe('LIKE');
    expect(parseFilter("attributes.status IN ('succeeded', 'failed')")[0].value).toEqual(['succeeded', 'failed']);
    expect(parseFilter("status NOT IN ('failed')")[0]).toMatchObject({ entity: 'attributes', comparator: 'NOT IN' });
    expect(parseFilter('')).toEqual([]);
  });

  it.each([
    ['metrics.acc > 0.9 or params.x = 1', /OR is not supported/],
    ['metrics.acc LIKE 0.9', /metrics compare as numbers/],
    ["metrics.acc = 'high'", /must be compared with a number/],
    ['attributes.colour = 1', /unknown attribute "colour"/],
    ['params.epochs = five', /quote strings \('five'\)/],
    ["params.name = 'open", /unterminated string/],
    ['metrics.acc >', /expected a value/],
    ['metrics.acc 0.9', /expected a comparator/],
    ['bogus.acc = 1', /"bogus" is not metrics, params, tags or attributes/],
    ['metrics.acc > 0.9 params.x = 1', /expected AND/],
  ])('refuses %s with a message that says what is wrong', (filter, message) => {
    expect(() => parseFilter(filter)).toThrow(FilterError);
    expect(() => parseFilter(filter)).toThrow(message);
  });

  it('says where the problem is', () => {
    expect(() => parseFilter('metrics.acc > 0.9 or x = 1')).toThrow(/at character 19/);
  });
});

describe('matchesFilter', () => {
  const m = (filter: string, r = run()) => matchesFilter(parseFilter(filter), r);

  it('compares metrics as numbers with every comparator', () => {
    expect(m('metrics.test_accuracy > 0.98')).toBe(true);
    expect(m('metrics.test_accuracy >= 0.9894')).toBe(true);
    expect(m('metrics.test_accuracy < 0.98')).toBe(false);
    expect(m('metrics.test_accuracy <= 0.98')).toBe(false);
    expect(m('metrics.test_accuracy != 0.9894')).toBe(false);
    expect(m('metrics.loss = 0.03')).toBe(true);
  });

  it('joins clauses with AND', () => {
    expect(m('metrics.test_accuracy > 0.98 and params.epochs = 5')).toBe(true);
    expect(m('metrics.test_accuracy > 0.98 and params.epochs = 6')).toBe(false);
  });

  it('compares params and tags as strings, numbers when both sides are numbers', () => {
    expect(m("params.epochs = '5'")).toBe(true);
    expect(m('params.lr < 0.01')).toBe(true);
    expect(m('params.epochs > 7')).toBe(false);
    expect(m("tags.stage != 'dev'")).toBe(true);
  });

  it('matches LIKE case-sensitively and ILIKE without case, with % and _', () => {
    expect(m("params.name LIKE 'mnist%'")).toBe(true);
    expect(m("params.name LIKE 'MNIST%'")).toBe(false);
    expect(m("params.name ILIKE 'MNIST%'")).toBe(true);
    expect(m("tags.stage LIKE 'pro_'")).toBe(true);
    expect(m("tags.stage LIKE 'pr_'")).toBe(false);
    expect(m("params.name LIKE '%.*%'")).toBe(false);
  });

  it('leaves out runs without the key, even for !=, as MLflow does', () => {
    expect(m('metrics.val_accuracy > 0')).toBe(false);
    expect(m("params.missing != 'x'")).toBe(false);
  });

  it('matches attributes: status, flow, times and durations', () => {
    expect(m("attributes.status = 'succeeded'")).toBe(true);
    expect(m("status IN ('failed', 'cancelled')")).toBe(false);
    expect(m("flow LIKE 'tr%'")).toBe(true);
    expect(m("start_time > '2026-11-30T00:00:00Z'")).toBe(true);
    expect(m('duration < 60000')).toBe(false);
  });
});

describe('order by', () => {
  it('sorts by a metric, descending, runs without it last', () => {
    const runs = [run({ attributes: { run_id: 'a' }, metrics: { acc: 0.9 } }), run({ attributes: { run_id: 'b' }, metrics: {} }), run({ attributes: { run_id: 'c' }, metrics: { acc: 0.95 } })];
    expect(sortRuns(runs, parseOrderBy('metrics.acc DESC')).map((r) => r.attributes.run_id)).toEqual(['c', 'a', 'b']);
    expect(sortRuns(runs, parseOrderBy('metrics.acc')).map((r) => r.attributes.run_id)).toEqual(['a', 'c', 'b']);
    expect(() => parseOrderBy('attributes.colour')).toThrow(/unknown attribute/);
  });
});
