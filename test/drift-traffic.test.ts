import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sendTraffic, TrafficError, trafficAccuracy } from '../tasks/drift/traffic';

const images = (n: number) => ({ name: 't', count: n, pixels: new Uint8Array(n * 784).fill(7), labels: Uint8Array.from({ length: n }, (_, i) => i % 10) });

describe('the traffic tool', () => {
  it('posts Open Inference Protocol requests (UINT8 [n,28,28,1]) and collects the answers and versions', async () => {
    const bodies: { inputs: { name: string; shape: number[]; datatype: string; data: number[] }[] }[] = [];
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        const body = JSON.parse(text);
        bodies.push(body);
        const n = body.inputs[0].shape[0];
        expect(req.url).toBe('/v2/models/mnist-digits/infer');
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ model_name: 'mnist-digits', model_version: '3', id: body.id, outputs: [{ name: 'label', datatype: 'INT64', shape: [n], data: new Array(n).fill(1) }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const batch = images(10);
      const result = await sendTraffic({ url, images: batch, batchSize: 4, concurrency: 2 });
      expect(result).toMatchObject({ requests: 3, images: 10, failed: 0, versions: { '3': 10 } });
      expect(bodies.map((b) => b.inputs[0].shape[0]).sort()).toEqual([2, 4, 4]);
      expect(bodies[0].inputs[0]).toMatchObject({ name: 'image', datatype: 'UINT8' });
      expect(bodies[0].inputs[0].data.every((v) => v === 7)).toBe(true);
      expect(trafficAccuracy(result, batch.labels)).toBeCloseTo(0.1);
    } finally {
      server.close();
    }
  });

  it('says when no server answers', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const error = await sendTraffic({ url: `http://127.0.0.1:${port}`, images: images(2) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrafficError);
    expect((error as Error).message).toMatch(/cannot reach the model server at http:\/\/127\.0\.0\.1:\d+/);
  });
});
