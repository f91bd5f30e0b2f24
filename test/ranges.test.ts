import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/public/runtime';
import { FileTarget, param, rangeDaily, rangeHourly, run, Task, UsageError } from '../src';
import { LocalFileSystem } from '../src/public/store';

const logger = createLogger({ level: 'silent' });

/** The local disk, counting the calls a completeness check makes. */
class CountingFs extends LocalFileSystem {
  calls = { exists: 0, list: 0 };
  override exists(path: string) {
    this.calls.exists++;
    return super.exists(path);
  }
  override listDirectory(path: string) {
    this.calls.list++;
    return super.listDirectory(path);
  }
}
const fs = new CountingFs();
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dagwright-range-'));
  fs.calls = { exists: 0, list: 0 };
});

class DailyExport extends Task<{ day: string; dir: string }> {
  static override params = { dir: param.string(), day: param.date() };
  override output() {
    return new FileTarget(fs, join(this.params.dir, 'exports', `${this.params.day}.csv`));
  }
  async run() {
    await this.output().writeText(`${this.params.day}\n`);
  }
}

/** A part file per day in a folder per day: `<dir>/parts/2026/02-20/part`. */
class DayPart extends Task<{ day: string; dir: string }> {
  static override params = { dir: param.string(), day: param.date() };
  override output() {
    const [year, month, day] = this.params.day.split('-');
    return new FileTarget(fs, join(this.params.dir, 'parts', year, `${month}-${day}`, 'part'));
  }
  async run() {
    await this.output().writeText(this.params.day);
  }
}

class HourlyLog extends Task<{ hour: string; dir: string }> {
  static override params = { hour: param.dateHour(), dir: param.string() };
  override output() {
    return new FileTarget(fs, join(this.params.dir, 'hours', `${this.params.hour}.log`));
  }
  async run() {
    await this.output().writeText('x');
  }
}

describe('ranges and backfill', () => {
  it('runs only the missing days, found with one listing of the folder instead of one check per day', async () => {
    const range = rangeDaily(DailyExport, { start: '2026-01-01', stop: '2026-02-01', params: { dir } });
    await run(rangeDaily(DailyExport, { start: '2026-01-01', stop: '2026-01-29', params: { dir } }), { logger });
    fs.calls = { exists: 0, list: 0 };
    const summary = await run(range, { logger });
    expect(summary.ok).toBe(true);
    const ran = summary.tasks.filter((t) => t.status === 'ran' && t.family === 'DailyExport').map((t) => t.id);
    expect(ran).toEqual(['2026-01-29', '2026-01-30', '2026-01-31'].map((day) => new DailyExport({ day, dir }).id));
    // Planning: the range's complete(), then its days; the re-check of the days before the range starts; the check after it "ran".
    expect(fs.calls.list).toBe(4);
    // Only the three new days are checked one by one: verified after running.
    expect(fs.calls.exists).toBe(3);
  });

  it('requires() lists every day whether or not complete() was called first; the run is the same', async () => {
    await run(rangeDaily(DailyExport, { start: '2026-01-01', stop: '2026-01-05', params: { dir } }), { logger });
    const fresh = rangeDaily(DailyExport, { start: '2026-01-01', stop: '2026-01-08', params: { dir } });
    const before = (fresh.requires() as DailyExport[]).map((t) => t.params.day);
    expect(await fresh.complete()).toBe(false);
    expect((fresh.requires() as DailyExport[]).map((t) => t.params.day)).toEqual(before);
    expect(before).toHaveLength(7);
    const summary = await run(fresh, { logger });
    expect(summary.tasks.filter((t) => t.family === 'DailyExport').map((t) => t.status)).toEqual(['complete', 'complete', 'complete', 'complete', 'ran', 'ran', 'ran']);
  });

  it('per-day folders (/%Y/%m-%d/part) are listed once, from their shared folder, not once per day', async () => {
    const range = rangeDaily(DayPart, { start: '2026-02-20', stop: '2026-03-05', params: { dir } });
    await run(rangeDaily(DayPart, { start: '2026-02-20', stop: '2026-03-01', params: { dir } }), { logger });
    fs.calls = { exists: 0, list: 0 };
    expect(await range.complete()).toBe(false);
    expect(fs.calls).toEqual({ exists: 0, list: 1 });
    const summary = await run(range, { logger });
    expect(summary.tasks.filter((t) => t.status === 'ran' && t.family === 'DayPart').map((t) => t.id)).toEqual(
      ['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04'].map((day) => new DayPart({ day, dir }).id),
    );
    expect(await range.complete()).toBe(true);
  });

  it('walks hours, stop excluded, and is complete once every hour is', async () => {
    const range = rangeHourly(HourlyLog, { start: '2026-03-01T22', stop: '2026-03-02T02', params: { dir } });
    expect(range.instances().map((t) => t.params.hour)).toEqual(['2026-03-01T22', '2026-03-01T23', '2026-03-02T00', '2026-03-02T01']);
    await writeFile(join(dir, 'x'), '');
    expect(await range.complete()).toBe(false);
    expect((await run(range, { logger })).ok).toBe(true);
    expect(await range.complete()).toBe(true);
  });

  it('refuses a bad bound or a class without that kind of parameter, naming it', () => {
    expect(() => rangeDaily(DailyExport, { start: '2026-1-1', stop: '2026-02-01', params: { dir } })).toThrow('start got "2026-1-1"; expected YYYY-MM-DD');
    expect(() => rangeHourly(DailyExport, { start: '2026-01-01T00', stop: '2026-01-02T00', params: { dir } })).toThrow(UsageError);
  });
});
