/**
 * A small flow with custom tasks: make a day's raw events, clean them, and
 * report on the last few days. Run it twice: the second run does nothing.
 *
 *   npx ts-node examples/daily-report.ts --day 2026-11-01 --days 3
 */
import { join } from 'node:path';
import { LocalTarget, param, runFlow, Task, type TaskContext } from '../src';

interface DayParams {
  day: string;
  store: string;
}
const dayParams = {
  day: param.date({ description: 'the day to process' }),
  store: param.string({ description: 'output folder' }),
};

function previousDays(day: string, count: number): string[] {
  const start = Date.parse(`${day}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(start - i * 86_400_000).toISOString().slice(0, 10));
}

/** Stands in for an extract step: writes one event per line. */
class ExtractEvents extends Task<DayParams> {
  static override params = dayParams;

  override output() {
    return new LocalTarget(join(this.params.store, 'raw', `${this.params.day}.txt`));
  }

  async run(ctx: TaskContext) {
    const seed = Number(this.params.day.replaceAll('-', ''));
    const lines = Array.from({ length: 100 }, (_, i) => `event,${(seed * 31 + i * 17) % 97},${i % 3 === 0 ? 'bad' : 'ok'}`);
    await this.output().writeText(`${lines.join('\n')}\n`);
    ctx.logger.info({ events: lines.length }, 'extracted');
  }
}

/** Keeps the good events and parses their values. */
class CleanEvents extends Task<DayParams> {
  static override params = dayParams;

  override requires() {
    return new ExtractEvents(this.params);
  }

  override output() {
    return new LocalTarget(join(this.params.store, 'clean', `${this.params.day}.json`));
  }

  async run() {
    const raw = await this.input().readText();
    const values = raw
      .split('\n')
      .filter((line) => line.endsWith(',ok'))
      .map((line) => Number(line.split(',')[1]));
    await this.output().writeJson({ day: this.params.day, values });
  }
}

/** Sums the cleaned values over the last `days` days. */
class Report extends Task<DayParams & { days?: number }> {
  static override params = { ...dayParams, days: param.int({ default: 3, min: 1, max: 31, description: 'days to cover' }) };

  override requires() {
    return previousDays(this.params.day, this.params.days).map((day) => new CleanEvents({ day, store: this.params.store }));
  }

  override output() {
    return new LocalTarget(join(this.params.store, 'reports', `${this.params.day}-${this.params.days}d.json`));
  }

  async run() {
    const days = await Promise.all(this.input().map((t) => t.readJson<{ day: string; values: number[] }>()));
    const total = days.reduce((sum, d) => sum + d.values.reduce((a, b) => a + b, 0), 0);
    await this.output().writeJson({ day: this.params.day, days: days.map((d) => d.day), total });
  }
}

if (require.main === module) {
  void runFlow({
    name: 'daily-report',
    description: 'Extract, clean and report on the last few days of events.',
    params: { day: dayParams.day, days: Report.params.days },
    roots: ({ day, days }, { store }) => new Report({ day, days, store }),
  });
}

export { CleanEvents, ExtractEvents, Report };
