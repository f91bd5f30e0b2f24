/**
 * Task events and task results from a container step: the step sends its
 * event as a log line that the driving process hands to the flow's
 * subscriber and keeps in run history; the step writes its result to the
 * store and the dependent (another container) reads it from there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseStore } from '../src';
import { RunHistory } from '../src/public/store';
import { describeDocker } from './helpers/docker';
import { runFlowProcess } from './helpers/flow-process';

describeDocker('task events and results with --executor docker', () => {
  it('the event reaches the driver and history, and the result reaches the dependent step', async () => {
    const store = await mkdtemp(join(tmpdir(), 'dagwright-events-results-docker-'));
    try {
      const result = await runFlowProcess('test/fixtures/results-flow.ts', ['--executor', 'docker', '--store', store, '--text', 'carried across containers']);
      expect(result.code, result.stderr.slice(-3000)).toBe(0);
      const summary = result.logs.find((l) => l.msg === 'run summary') as { ran: { executor: string }[] };
      expect(summary.ran.map((r) => r.executor)).toEqual(['docker', 'docker']);

      const [event] = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { got: string; payload: { words: number; pid: number }; driverPid: number });
      expect(event).toMatchObject({ got: 'text:measured', payload: { words: 3 } });
      const report = JSON.parse(await readFile(join(store, 'report-1.json'), 'utf8')) as { words: number; longest: string; reportPid: number };
      expect(report).toMatchObject({ words: 3, longest: 'containers' });
      // Both ran in containers: neither is the driving process (pids inside a container are its own).
      expect([event.payload.pid, report.reportPid]).not.toContain(event.driverPid);

      const history = RunHistory.forStore(parseStore(store));
      const record = await history.read((await history.runIds())[0]);
      expect(record!.events!.map((e) => [e.name, e.attempt, e.payload])).toContainEqual(['text:measured', 1, { words: 3, pid: event.payload.pid }]);
    } finally {
      await rm(store, { recursive: true, force: true });
    }
  }, 180_000);
});
