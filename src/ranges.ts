import { bulkComplete } from './bulk-complete';
import { UsageError } from './errors';
import { param, type ParamValue } from './params';
import { checkDate, checkDateHour, isoDate, isoDateHour } from './params/time-kinds';
import { type AnyTask, type Requirements, Task, type TaskClass } from './task';

type Step = 'day' | 'hour';

export interface RangeOptions {
  /** First instance (YYYY-MM-DD for days, YYYY-MM-DDTHH for hours), included. */
  readonly start: string;
  /** End, excluded (as Luigi's ranges). */
  readonly stop: string;
  /** The date or hour parameter of `of` that the range walks; default: its first parameter of that kind. */
  readonly param?: string;
  /** `of`'s other parameters, the same for every instance. */
  readonly params?: Readonly<Record<string, ParamValue>>;
}

const stepMs: Record<Step, number> = { day: 86_400_000, hour: 3_600_000 };

function instants(step: Step, start: string, stop: string): string[] {
  const parse = (text: string) => Date.parse(step === 'day' ? `${text}T00:00:00Z` : `${text.slice(0, 10)}T${text.slice(11)}:00:00Z`);
  const format = step === 'day' ? isoDate : isoDateHour;
  const out: string[] = [];
  for (let t = parse(start); t < parse(stop); t += stepMs[step]) out.push(format(new Date(t)));
  return out;
}

function rangeParam(of: TaskClass, step: Step, given: string | undefined): string {
  const expected = step === 'day' ? param.date().expected : param.dateHour().expected;
  const name = given ?? Object.keys(of.params).find((k) => of.params[k].expected === expected);
  if (name === undefined || of.params[name]?.expected !== expected) {
    throw new UsageError(`${step === 'day' ? 'rangeDaily' : 'rangeHourly'}(${of.name}): ${given ? `parameter "${given}" is not` : 'no parameter is'} ${expected}; name the one to walk with { param }.`);
  }
  return name;
}

/**
 * Luigi's RangeDaily / RangeHourly: every instance of `of` from start to
 * stop. `requires()` lists them all, whenever it is called; the planner
 * finds the missing ones with one listing per output folder (or of the
 * folders' shared ancestor, for per-day folders), not one check per
 * instance, and runs only those. Complete when every instance is.
 */
export class RangeTask extends Task<{ of: string; step: string; start: string; stop: string; fixed: { readonly [key: string]: ParamValue } }> {
  static override params = {
    of: param.string(),
    step: param.choice(['day', 'hour']),
    start: param.string(),
    stop: param.string(),
    fixed: param.json({ default: {} }),
  };
  override readonly listsRequirements = true;

  constructor(
    private readonly of: TaskClass,
    private readonly walked: string,
    values: { of: string; step: Step; start: string; stop: string; fixed: Readonly<Record<string, ParamValue>> },
  ) {
    super(values);
  }

  /** Every instance in the range, oldest first. */
  instances(): AnyTask[] {
    const make = this.of as unknown as new (p: object) => AnyTask;
    return instants(this.params.step as Step, this.params.start, this.params.stop).map((at) => new make({ ...this.params.fixed, [this.walked]: at }));
  }

  override async complete(): Promise<boolean> {
    const done = await bulkComplete(this.instances());
    return done.every(Boolean);
  }

  override requires(): Requirements {
    return this.instances();
  }

  async run(): Promise<void> {}
}

function range(step: Step, of: TaskClass, options: RangeOptions): RangeTask {
  const check = step === 'day' ? checkDate : checkDateHour;
  for (const [name, value] of [['start', options.start], ['stop', options.stop]] as const) {
    if (!check(value)) throw new UsageError(`range of ${of.name}: ${name} got ${JSON.stringify(value)}; expected ${step === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM-DDTHH'}.`);
  }
  const walked = rangeParam(of, step, options.param);
  const family = Object.hasOwn(of, 'family') && of.family ? of.family : of.name;
  return new RangeTask(of, walked, { of: family, step, start: options.start, stop: options.stop, fixed: { ...options.params } });
}

/** Every day of `of` from `start` (included) to `stop` (excluded); only missing days run. */
export function rangeDaily(of: TaskClass, options: RangeOptions): RangeTask {
  return range('day', of, options);
}

/** Every hour of `of` from `start` (YYYY-MM-DDTHH, included) to `stop` (excluded); only missing hours run. */
export function rangeHourly(of: TaskClass, options: RangeOptions): RangeTask {
  return range('hour', of, options);
}
