import { isAbsolute, relative, sep } from 'node:path';
import { posix } from 'node:path';
import { UsageError } from '../../errors';

/** Where `containers/build --baked` puts the project inside `dagwright/runner-baked`. */
export const bakedProjectDir = '/app';

/**
 * The path inside a baked image of a flow script on this machine: the project
 * folder becomes `projectDir`, and a TypeScript source becomes its compiled
 * JavaScript under `dist/` (what `tsc -p tsconfig.json` writes with
 * `outDir: dist` and `rootDir: .`): `<project>/flows/train.ts` is
 * `/app/dist/flows/train.js`, `<project>/dist/flows/train.js` stays
 * `/app/dist/flows/train.js`.
 */
export function pathInImage(hostPath: string, projectRoot: string, projectDir = bakedProjectDir): string {
  const rel = relative(projectRoot, hostPath);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new UsageError(
      `the flow script ${hostPath} is outside the project ${projectRoot}; the Swarm executor runs steps from an image holding ` +
        `the project (at ${projectDir}), so the flow script must be part of it.`,
    );
  }
  const parts = rel.split(sep);
  const ts = /\.([cm]?)ts$/.exec(rel);
  if (ts && !rel.endsWith('.d.ts')) {
    const js = parts.join('/').replace(/\.([cm]?)ts$/, `.${ts[1]}js`);
    return posix.join(projectDir, parts[0] === 'dist' ? js : posix.join('dist', js));
  }
  return posix.join(projectDir, ...parts);
}
