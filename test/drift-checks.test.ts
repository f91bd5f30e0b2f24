import { describe, expect, it } from 'vitest';
import { DEFAULT_DECISIVE, runDriftChecks } from '../tasks/drift/checks';
import type { DriftFeatures } from '../tasks/drift/features';
import { imageStatistics } from '../tasks/drift/features';
import { codeVersion } from '../tasks/code-version';
import { type DriftReport, driftHistograms, renderReportHtml, summarise } from '../tasks/drift/report';
import { mulberry32 } from '../tasks/data/seeded-random';

/** Synthetic features: confident predictions of random classes, `confidence` shifts them; embeddings around `centre`. */
function features(count: number, seed: number, shift: { confidence?: number; centre?: number; ink?: number } = {}): DriftFeatures {
  const random = mulberry32(seed);
  const classes = 10;
  const dim = 8;
  const probabilities = new Float32Array(count * classes);
  const embeddings = new Float32Array(count * dim);
  const imageStats = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(random() * classes);
    const top = Math.min(0.999, (shift.confidence ?? 0.95) + random() * 0.05);
    for (let k = 0; k < classes; k++) probabilities[i * classes + k] = k === c ? top : (1 - top) / (classes - 1);
    for (let k = 0; k < dim; k++) embeddings[i * dim + k] = (shift.centre ?? 0) + random() + (k === c % dim ? 1 : 0);
    imageStats.set([0.13 + random() * 0.02 + (shift.ink ?? 0), 0.1 + random() * 0.02 + (shift.ink ?? 0), 14 + random() - 0.5, 14 + random() - 0.5], i * 4);
  }
  return { count, classes, embeddingDim: dim, probabilities, embeddings, imageStats };
}

describe('runDriftChecks', () => {
  it('runs every test with its statistic, p-value, threshold and decision; one distribution is no drift', () => {
    const result = runDriftChecks(features(1500, 1), features(200, 2));
    expect(result.drift).toBe(false);
    expect(result.tests.map((t) => t.name)).toEqual(['class-probabilities-ks', 'entropy-ks', 'predicted-class-chi2', 'embedding-mmd', 'image-statistics']);
    for (const t of result.tests.filter((x) => x.name !== 'image-statistics')) {
      expect(t.pValue).toBeGreaterThan(t.threshold);
      expect(t.threshold).toBeCloseTo(0.05 / 4); // Bonferroni over the four p-value tests
      expect(t.decisive).toBe(true);
    }
    expect(result.options).toMatchObject({ pValue: 0.05, permutations: 100, combine: 'bonferroni', driftShare: 0.5, wassersteinThreshold: 0.1 });
    expect(result.tests.find((t) => t.name === 'image-statistics')?.decisive).toBe(false);
  });

  it('finds less confident predictions and moved embeddings', () => {
    const result = runDriftChecks(features(1500, 1), features(100, 3, { confidence: 0.6, centre: 0.5 }));
    expect(result.drift).toBe(true);
    const drifted = result.tests.filter((t) => t.drift).map((t) => t.name);
    expect(drifted).toEqual(expect.arrayContaining(['class-probabilities-ks', 'entropy-ks', 'embedding-mmd']));
    const perClass = result.tests[0].details!.perClass as { class: number; pValue: number }[];
    expect(perClass).toHaveLength(10);
  });

  it("uses Evidently's rule for image statistics: KS up to 1,000 reference rows, normed Wasserstein above", () => {
    const small = runDriftChecks(features(800, 1), features(100, 4, { ink: 0.02 })).tests.find((t) => t.name === 'image-statistics')!;
    const large = runDriftChecks(features(1500, 1), features(100, 4, { ink: 0.02 })).tests.find((t) => t.name === 'image-statistics')!;
    const tests = (t: typeof small) => (t.details!.columns as { test: string; drift: boolean }[]).map((c) => c.test);
    expect(tests(small)).toEqual(['ks', 'ks', 'ks', 'ks']);
    expect(tests(large)).toEqual(['wasserstein', 'wasserstein', 'wasserstein', 'wasserstein']);
    for (const t of [small, large]) {
      expect(t.statistic).toBeGreaterThanOrEqual(0.5); // intensity and ink moved: 2 of 4 columns at least
      expect(t.drift).toBe(true);
    }
  });

  it('every default is an option', () => {
    const ref = features(1500, 1);
    const cur = features(100, 5, { ink: 0.02 });
    const each = runDriftChecks(ref, cur, { combine: 'each', pValue: 0.01, tests: ['entropy-ks', 'image-statistics'], decisive: ['entropy-ks', 'image-statistics'], permutations: 10 });
    expect(each.tests.map((t) => t.name)).toEqual(['entropy-ks', 'image-statistics']);
    expect(each.tests[0].threshold).toBe(0.01);
    expect(each.drift).toBe(true); // image statistics now decide
    expect(runDriftChecks(ref, cur, { tests: ['image-statistics'] }).drift).toBe(false); // advisory by default
    expect(runDriftChecks(ref, cur, { tests: ['embedding-mmd'], permutations: 7 }).tests[0].details).toMatchObject({ permutations: 7 });
    expect(DEFAULT_DECISIVE).not.toContain('image-statistics');
  });

  it('refuses features of different models and windows too small to test', () => {
    const other = { ...features(10, 1), embeddingDim: 4, embeddings: new Float32Array(40) };
    expect(() => runDriftChecks(features(100, 1), other)).toThrow(/different models/);
    expect(() => runDriftChecks(features(100, 1), features(1, 2))).toThrow(/at least 2 reference and 2 current images, got 100 and 1/);
  });
});

describe('image statistics', () => {
  it('measures mean intensity, ink fraction and centre of mass', () => {
    const img = new Uint8Array(784);
    img[5 * 28 + 20] = 255; // one ink pixel at x 20, y 5
    img[5 * 28 + 22] = 100;
    const [mean, ink, cx, cy] = imageStatistics(img, 1);
    expect(mean).toBeCloseTo(355 / 784 / 255);
    expect(ink).toBeCloseTo(1 / 784);
    expect(cx).toBeCloseTo((255 * 20 + 100 * 22) / 355);
    expect(cy).toBeCloseTo(5);
  });
});

describe('the report', () => {
  it('renders a self-contained page that escapes what it shows, and the contract summary', () => {
    const ref = features(500, 1);
    const cur = features(100, 2);
    const result = runDriftChecks(ref, cur, { permutations: 10 });
    const report: DriftReport = {
      formatVersion: 1,
      time: '2026-12-01T10:00:00.000Z',
      model: 'm<script>alert(1)</script>',
      version: 3,
      drift: result.drift,
      window: { kind: 'source', count: 100, source: 'folder:/x/<b>', seed: 0, key: 'abc' },
      reference: { count: 500, uri: '/r', data: {} },
      tests: result.tests,
      options: result.options,
      histograms: driftHistograms(ref, cur),
      code: codeVersion(),
      checkMs: 5,
    };
    const html = renderReportHtml(report);
    expect(html).not.toContain('<script>');
    expect(html).toContain('m&lt;script&gt;');
    expect(html).toContain('folder:/x/&lt;b&gt;');
    expect(html).not.toMatch(/<(link|script|img)\b/);
    const summary = summarise(report, '/r/report.json', '/r/report.html');
    expect(Object.keys(summary)).toEqual(['time', 'model', 'version', 'drift', 'window', 'tests', 'report', 'html']);
    expect(summary.tests[4]).not.toHaveProperty('pValue');
    for (const h of report.histograms) {
      expect(h.reference.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
      expect(h.current.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    }
  });
});
