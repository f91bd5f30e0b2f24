import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clientScript } from './client-script';
import { clientStyle } from './client-style';

/** An asset the UI serves: a fixed table, so no URL can name any other file. */
interface Asset {
  readonly type: string;
  readonly body: () => Buffer;
}

function packageFile(pkg: string, file: string): () => Buffer {
  let cached: Buffer | undefined;
  return () => (cached ??= readFileSync(join(dirname(require.resolve(pkg)), file)));
}

function text(body: string): () => Buffer {
  const bytes = Buffer.from(body);
  return () => bytes;
}

const js = 'text/javascript; charset=utf-8';
const css = 'text/css; charset=utf-8';

/** Bundled from npm packages installed with dagwright; nothing from a CDN. */
export const assets: Readonly<Record<string, Asset>> = {
  'app.js': { type: js, body: text(clientScript) },
  'app.css': { type: css, body: text(clientStyle) },
  // uplot's main is dist/uPlot.cjs.js, dagre's dist/dagre.cjs: their browser builds sit beside them.
  'uplot.js': { type: js, body: packageFile('uplot', 'uPlot.iife.min.js') },
  'uplot.css': { type: css, body: packageFile('uplot', 'uPlot.min.css') },
  'dagre.js': { type: js, body: packageFile('@dagrejs/dagre', 'dagre.min.js') },
};
