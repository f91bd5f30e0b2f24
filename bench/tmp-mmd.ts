import { mmdTest } from '../tasks/drift/stats/mmd';
import { mulberry32 } from '../tasks/data/seeded-random';
const r = mulberry32(1), dim = 128, n = 300;
const a = Float32Array.from({ length: n * dim }, () => Math.max(0, r() - 0.5));
const b = Float32Array.from({ length: n * dim }, () => Math.max(0, r() - 0.45));
for (let w = 0; w < 3; w++) mmdTest(a, b, dim);
const s = performance.now();
let res; for (let i = 0; i < 20; i++) res = mmdTest(a, b, dim);
console.log(((performance.now() - s) / 20).toFixed(1), 'ms', res);
