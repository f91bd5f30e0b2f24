/**
 * A real S3 server (s3rver) on 127.0.0.1, a free port and a temporary
 * folder, for the test suite's global setup and the S3 benchmark.
 *
 * s3rver 3.7.1 implements multipart uploads (create, upload part, complete)
 * but answers AbortMultipartUpload with 405 MethodNotAllowed and
 * ListMultipartUploads with 501 NotImplemented. `multipartShim` adds those two
 * operations over s3rver's own upload folders, so tests can check with the
 * SDK that a failed upload was aborted on the server and nothing is left.
 *
 * s3rver's DeleteObjects deletes its keys in parallel, and each delete then
 * removes its folder if it looks empty: two keys in one folder race, and the
 * loser fails with ENOENT or ENOTEMPTY, which the request reports as a 500
 * InternalError. `tolerateFolderCleanupRaces` ignores those two errors, which
 * can only come from that clean-up (the object files are already unlinked).
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/** Static credentials s3rver accepts (it checks the access key id only; signatures are not verified). */
export const s3rverCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface RunningS3Server {
  /** `http://<address>:<port>` */
  readonly endpoint: string;
  readonly directory: string;
  /** TCP connections the server has accepted so far. */
  readonly connections: () => number;
  /** HTTP requests the server has received so far, by method. */
  readonly requests: () => Record<string, number>;
  /** Delays every response by `ms` (default 0), as a network round trip to a distant server would. */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function s3ErrorBody(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** AbortMultipartUpload and ListMultipartUploads (path-style requests), over s3rver's `._S3rver_uploads` folders. */
function multipartShim(server: S3rver): S3rver['middleware'][number] {
  return async (ctx, next) => {
    const segments = ctx.path.split('/').filter(Boolean).map(decodeURIComponent);
    const listing = ctx.method === 'GET' && 'uploads' in ctx.query && segments.length === 1;
    const aborting = ctx.method === 'DELETE' && typeof ctx.query.uploadId === 'string' && segments.length >= 2;
    if (!listing && !aborting) return next();

    const bucket = segments[0];
    const uploads = server.store.getResourcePath(bucket, undefined, 'uploads');
    const fail = (status: number, code: string, message: string) => {
      ctx.status = status;
      ctx.type = 'application/xml';
      ctx.body = s3ErrorBody(code, message);
    };
    if (!(await isDirectory(join(server.store.rootDirectory, bucket)))) return fail(404, 'NoSuchBucket', 'The specified bucket does not exist');

    if (aborting) {
      const dir = join(uploads, ctx.query.uploadId as string);
      const key = await readFile(join(dir, 'key'), 'utf8').catch(() => undefined);
      if (key !== segments.slice(1).join('/')) return fail(404, 'NoSuchUpload', 'The specified upload does not exist.');
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }

    const ids = await readdir(uploads).catch(() => [] as string[]);
    const entries = await Promise.all(
      ids.map(async (id) => `<Upload><Key>${xml(await readFile(join(uploads, id, 'key'), 'utf8'))}</Key><UploadId>${id}</UploadId></Upload>`),
    );
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>${xml(bucket)}</Bucket><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${entries.join('')}</ListMultipartUploadsResult>`;
  };
}

function tolerateFolderCleanupRaces(server: S3rver): void {
  const deleteObject = server.store.deleteObject.bind(server.store);
  server.store.deleteObject = async (bucket, key) => {
    try {
      await deleteObject(bucket, key);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY') throw err;
    }
  };
}

/**
 * Starts s3rver with `buckets` made; `close()` stops it and removes its folder. `address` is 127.0.0.1 unless a
 * test's own hosts must reach it (the cluster harness binds it to its test bridge's address).
 */
export async function startS3Server(buckets: readonly string[] = [], { address = '127.0.0.1' }: { address?: string } = {}): Promise<RunningS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'dagwright-s3rver-'));
  const server = new S3rver({
    address,
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  let latencyMs = 0;
  const requests: Record<string, number> = {};
  server.middleware.unshift(multipartShim(server));
  server.middleware.unshift(async (ctx, next) => {
    requests[ctx.method] = (requests[ctx.method] ?? 0) + 1;
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    return next();
  });
  tolerateFolderCleanupRaces(server);
  const { port } = await server.run();
  let connections = 0;
  server.httpServer?.on('connection', () => connections++);
  return {
    endpoint: `http://${address}:${port}`,
    directory,
    connections: () => connections,
    requests: () => ({ ...requests }),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: async () => {
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
