import { describe, expect, it } from 'vitest';
import { param, ParameterError, Task } from '../src';
import type { FlowDefinition } from '../src';
import { helpText, parseFlowArgs } from '../src/flow/cli-args';
import { encodeParamArgs, secretEnvName } from '../src/flow/param-args';
import { redactSecrets } from '../src/secrets';

/** Command-line text -> value -> text -> the same value, and JSON -> the same value. */
const cases: [string, ReturnType<(typeof param)[keyof typeof param]>, string, unknown, string][] = [
  ['dateHour', param.dateHour(), '2026-11-01T07', '2026-11-01T07', '2026-11-01T25'],
  ['dateMinute', param.dateMinute(), '2026-11-01T0730', '2026-11-01T0730', '2026-11-01T0760'],
  ['month', param.month(), '2026-02', '2026-02', '2026-13'],
  ['year', param.year(), '2026', 2026, '26'],
  ['dateInterval', param.dateInterval(), '2026-01-01/2026-01-31', '2026-01-01/2026-01-31', '2026-02-01/2026-01-01'],
  ['duration', param.duration(), '1h30m', 5_400_000, '90 minutes'],
  ['list of ints', param.list(param.int()), '1,-2,3', [1, -2, 3], '1,x'],
  ['json', param.json(), '{"b":1,"a":[true,"x"]}', { a: [true, 'x'], b: 1 }, '[1,2]'],
];

describe('parameter kinds', () => {
  for (const [kind, spec, text, value, bad] of cases) {
    it(`${kind}: parses ${text}, writes it back exactly, resolves the JSON value, refuses ${bad} naming what it expects`, () => {
      expect(spec.parse('F', 'p', text)).toEqual(value);
      expect(spec.parse('F', 'p', spec.toText(value as never))).toEqual(value);
      expect(spec.resolve('F', 'p', JSON.parse(JSON.stringify(value)))).toEqual(value);
      expect(() => spec.parse('F', 'p', bad)).toThrow(ParameterError);
      expect(() => spec.parse('F', 'p', bad)).toThrow(`F: parameter "p" got ${JSON.stringify(bad)}; expected ${spec.expected}.`);
    });
  }

  it('a JSON object is identity-stable whatever its key order', () => {
    class Configured extends Task<{ config: Record<string, unknown> }> {
      static override params = { config: param.json() };
      async run() {}
    }
    expect(new Configured({ config: { a: 1, b: 2 } }).id).toBe(new Configured({ config: { b: 2, a: 1 } }).id);
    expect(new Configured({ config: { a: 1 } }).id).not.toBe(new Configured({ config: { a: 2 } }).id);
  });

  it('exclusive bounds: gt and lt', () => {
    const rate = param.number({ gt: 0, lt: 1 });
    expect(rate.expected).toBe('a number > 0 and < 1');
    expect(rate.resolve('F', 'rate', 0.5)).toBe(0.5);
    expect(() => rate.resolve('F', 'rate', 0)).toThrow('expected a number > 0 and < 1');
    expect(() => rate.resolve('F', 'rate', 1)).toThrow(ParameterError);
    expect(param.int({ min: 1, max: 5 }).expected).toBe('an integer from 1 to 5');
  });
});

const flow: FlowDefinition = {
  name: 'kinds',
  params: {
    offset: param.int({ default: 0 }),
    epochs: param.int({ default: 5, min: 1 }),
    label: param.string({ default: '' }),
    sizes: param.list(param.int(), { default: [] }),
    token: param.string({ secret: true, default: 'none' }),
    dryish: param.boolean({ default: false }),
  },
  roots: () => [],
};

describe('flow command line: values that look like options', () => {
  it('takes a negative number or a dash-leading string after an option as its value', () => {
    const { params } = parseFlowArgs(flow, ['--offset', '-2', '--label', '-x', '--sizes', '-1,2']);
    expect(params).toMatchObject({ offset: -2, label: '-x', sizes: [-1, 2] });
  });

  it('parses --epochs -1, then the range error names the option, the value and what it expects', () => {
    expect(() => parseFlowArgs(flow, ['--epochs', '-1'])).toThrow('flow kinds: parameter "epochs" got "-1"; expected an integer >= 1. Pass --epochs <an integer >= 1>.');
  });

  it('an option with no value says which option lacks one and what it expects', () => {
    expect(() => parseFlowArgs(flow, ['--epochs'])).toThrow('option --epochs lacks a value; expected an integer >= 1');
    expect(() => parseFlowArgs(flow, ['--store', '--epochs', '3'])).toThrow('option --store lacks a value; expected where outputs go');
  });

  it('round-trips every kind of value through the arguments a step gets', () => {
    const values = { offset: -2, epochs: 3, label: '-x =a b ünï', sizes: [-1, 2], token: 's3cr3t-token', dryish: true };
    const resolved = parseFlowArgs(flow, ['--token', 's3cr3t-token']).params;
    expect(resolved.token).toBe('s3cr3t-token');
    const encoded = encodeParamArgs(flow.params, values);
    expect(encoded.args.join(' ')).not.toContain('s3cr3t-token');
    expect(encoded.env).toEqual({ [secretEnvName('token')]: 's3cr3t-token' });
    expect(parseFlowArgs(flow, encoded.args, encoded.env).params).toEqual(values);
    expect(parseFlowArgs(flow, encodeParamArgs(flow.params, { ...values, label: '' }).args, encoded.env).params.label).toBe('');
  });

  it('--help names each kind\'s syntax and how a secret may be given', () => {
    const help = helpText(flow, 'flow.ts');
    expect(help).toContain('--sizes <value>');
    expect(help).toContain('comma-separated values (a,b,c) or a JSON array; each an integer');
    expect(help).toContain('a string; secret (or set DAGWRIGHT_SECRET_TOKEN)');
    expect(help).not.toContain('(default: none)'); // a secret's default is not shown
    expect(help).toContain('--pool <value>');
    expect(help).toContain('66 external data missing');
  });

  it('keeps a secret out of task ids and redacts its value wherever it is printed', () => {
    class Api extends Task<{ token: string; day: string }> {
      static override params = { token: param.string({ secret: true }), day: param.date() };
      async run() {}
    }
    const a = new Api({ token: 'tok-AAAA-1111', day: '2026-11-01' });
    expect(a.id).toBe(new Api({ token: 'tok-BBBB-2222', day: '2026-11-01' }).id);
    expect(a.id).not.toContain('tok-');
    expect(redactSecrets(`calling with tok-AAAA-1111 now`)).toBe('calling with [redacted] now');
    expect(() => new Api({ token: 42 as never, day: '2026-11-01' })).toThrow('parameter "token" got "[redacted]"');
  });
});
