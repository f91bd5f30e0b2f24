/**
 * The driver's side of dynamic requirements a step asked for in a request
 * file: a requested task's secret parameter, which no request file carries,
 * comes from the requesting task's secret of the same name or from its
 * environment variable; otherwise a usage error says how to give it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalTarget, param, Task, UsageError } from '../src';
import { requestFile, stepRequirements } from '../src/step/requests';
import { taskFromSpec, taskSpec } from '../src/step/task-spec';

class Upload extends Task<{ name: string; apiKey: string }> {
  static override params = { name: param.string(), apiKey: param.string({ secret: true }) };
  override output() {
    return new LocalTarget(join(tmpdir(), `upload-${this.params.name}`));
  }
  async run() {}
}

class Publisher extends Task<{ apiKey?: string }> {
  static override params = { apiKey: param.string({ secret: true, default: '' }) };
  async run() {}
}

let store: string;
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'dagwright-step-requests-'));
});
afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

async function requested(requester: Task, wanted: Upload, env: NodeJS.ProcessEnv = {}) {
  await new LocalTarget(requestFile(store, 'run-1', requester.id)).writeJson({ requires: [taskSpec(wanted)] });
  const saved = process.env.DAGWRIGHT_SECRET_API_KEY;
  if (env.DAGWRIGHT_SECRET_API_KEY === undefined) delete process.env.DAGWRIGHT_SECRET_API_KEY;
  else process.env.DAGWRIGHT_SECRET_API_KEY = env.DAGWRIGHT_SECRET_API_KEY;
  try {
    return await stepRequirements(store, 'run-1', requester);
  } finally {
    if (saved === undefined) delete process.env.DAGWRIGHT_SECRET_API_KEY;
    else process.env.DAGWRIGHT_SECRET_API_KEY = saved;
  }
}

it('a spec never holds a secret, and a task made from it takes the secret from its environment variable', () => {
  const upload = new Upload({ name: 'a', apiKey: 'k-123456' });
  expect(JSON.stringify(taskSpec(upload))).not.toContain('k-123456');
  expect(taskFromSpec(taskSpec(upload), undefined, {})).toBeUndefined();
  expect(taskFromSpec(taskSpec(upload), undefined, { DAGWRIGHT_SECRET_API_KEY: 'k-123456' })?.params).toEqual({ name: 'a', apiKey: 'k-123456' });
});

it("gives a requested task the requester's secret of the same name, else the environment's", async () => {
  const wanted = new Upload({ name: 'b', apiKey: 'from-requester' });
  const fromRequester = await requested(new Publisher({ apiKey: 'from-requester' }), wanted);
  expect(fromRequester.tasks.map((t) => t.params)).toEqual([{ name: 'b', apiKey: 'from-requester' }]);
  class Plain extends Task {
    async run() {}
  }
  const fromEnv = await requested(new Plain(), wanted, { DAGWRIGHT_SECRET_API_KEY: 'from-requester' });
  expect(fromEnv.tasks.map((t) => t.params)).toEqual([{ name: 'b', apiKey: 'from-requester' }]);
});

it('says which secret is missing and how to give it when no source has it', async () => {
  class Plain extends Task {
    async run() {}
  }
  const failure = await requested(new Plain(), new Upload({ name: 'd', apiKey: 'k' })).catch((err: Error) => err);
  expect(failure).toBeInstanceOf(UsageError);
  expect((failure as Error).message).toMatch(/no secret apiKey for it: a request file carries no secrets\); .*set DAGWRIGHT_SECRET_API_KEY in the flow's environment/);
});
