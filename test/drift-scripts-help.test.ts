/**
 * The drift demo and the traffic tool as a user first meets them: --help
 * prints the options (exit 0), an unknown option is a usage error naming it
 * (exit 2), never a stack trace. Real processes.
 */
import { describe, expect, it } from 'vitest';
import { runFlowProcess } from './helpers/flow-process';

describe('drift scripts on the command line', { timeout: 120_000 }, () => {
  for (const script of ['flows/drift-demo.ts', 'tasks/drift/traffic.ts']) {
    it(`${script} --help prints its options; a bad option exits 2 naming it`, async () => {
      const help = await runFlowProcess(script, ['--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`usage: npx ts-node ${script}`);
      expect(help.stdout).toContain('--help');
      const bad = await runFlowProcess(script, ['--bogus']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("Unknown option '--bogus'");
      expect(bad.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
