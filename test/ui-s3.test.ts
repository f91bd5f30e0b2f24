import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UiServer } from '../app/ui/ui-server';
import { runFlowProcess } from './helpers/flow-process';
import { freshBucket, s3Endpoint, s3TestClient } from './helpers/s3';
import { s3rverCredentials } from './helpers/s3-server';

let store: string;
let ui: UiServer;
let runId: string;

describe('web UI over an S3 store (s3rver): pages read runs, tracking and logs through S3', () => {
  beforeAll(async () => {
    const env = { AWS_ENDPOINT_URL: s3Endpoint(), DAGWRIGHT_S3_FORCE_PATH_STYLE: '1', AWS_ACCESS_KEY_ID: s3rverCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3rverCredentials.secretAccessKey, AWS_REGION: 'us-east-1' };
    // The UI in this process uses the shared S3 client, made from the standard configuration on first use.
    Object.assign(process.env, env);
    store = `s3://${await freshBucket(s3TestClient(), 'ui-store')}/team/store`;
    const result = await runFlowProcess('test/fixtures/ui-flow.ts', ['--store', store, '--executor', 'inprocess', '--lr', '0.05'], env);
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    runId = result.logs.find((l) => typeof l.runId === 'string')!.runId as string;
    ui = new UiServer({ store, port: 0 });
    await ui.start();
  }, 120_000);
  afterAll(async () => {
    await ui?.stop();
  });

  it('lists the run and shows its DAG, its tasks, their tracking and logs', async () => {
    const list = await (await fetch(`${ui.url}/runs`)).text();
    expect(list).toContain(`data-run-id="${runId}"`);
    expect(list).toContain('1 run(s)');
    const run = await (await fetch(`${ui.url}/runs/${runId}`)).text();
    const dag = JSON.parse(/<script type="application\/json" id="dag-data">(.*?)<\/script>/s.exec(run)![1]) as { nodes: { id: string; status: string }[]; edges: unknown[] };
    expect(dag.nodes).toHaveLength(6);
    expect(dag.edges).toHaveLength(5);
    expect(dag.nodes.every((n) => n.status === 'ran')).toBe(true);
    const train = dag.nodes.find((n) => n.id.startsWith('TrainToy_'))!.id;
    const task = await (await fetch(`${ui.url}/runs/${runId}/tasks/${encodeURIComponent(train)}`)).text();
    expect(task).toMatch(/<th>lr<\/th><td>0\.05<\/td>/);
    expect(task).toContain('val_accuracy');
    expect(task).toContain('epoch 3/3');
    const filtered = await (await fetch(`${ui.url}/runs?q=${encodeURIComponent('metrics.test_accuracy > 0.97')}`)).text();
    expect(filtered).toContain(`data-run-id="${runId}"`);
  });
});
