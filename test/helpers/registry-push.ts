/**
 * Pushes an image of this machine's engine to a registry over the registry
 * HTTP API (distribution v2), as an OCI image with uncompressed layers:
 * `docker save` streams the layers, each is uploaded as it comes, then the
 * config and the manifest. `docker push` would gzip every layer first, which
 * for the ~600 MB baked image takes one to two minutes of CPU on two cores;
 * on a test bridge the bytes cost nothing. Engines pull such an image like
 * any other (OCI allows uncompressed layers). Returns the manifest digest.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { extract } from 'tar-stream';

interface Blob {
  readonly digest: string;
  readonly size: number;
}

/** One blob by chunked upload (start, PATCH the stream, PUT with the digest computed on the way). */
async function uploadBlob(base: string, repo: string, body: Readable): Promise<Blob> {
  const started = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (started.status !== 202) throw new Error(`registry: starting an upload to ${repo} answered ${started.status}`);
  const hash = createHash('sha256');
  let size = 0;
  const counted = new PassThrough();
  counted.on('data', (c: Buffer) => {
    hash.update(c);
    size += c.length;
  });
  body.pipe(counted);
  const location = new URL(started.headers.get('location')!, base);
  const patched = await fetch(location, {
    method: 'PATCH',
    headers: { 'content-type': 'application/octet-stream' },
    body: Readable.toWeb(counted) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (patched.status !== 202) throw new Error(`registry: uploading a blob to ${repo} answered ${patched.status}`);
  const digest = `sha256:${hash.digest('hex')}`;
  const done = new URL(patched.headers.get('location')!, base);
  done.searchParams.set('digest', digest);
  const put = await fetch(done, { method: 'PUT' });
  if (put.status !== 201) throw new Error(`registry: finishing blob ${digest} answered ${put.status}`);
  return { digest, size };
}

/** The files of `docker save IMAGE`: layers uploaded as they stream by, the rest kept. */
async function uploadSaved(image: string, base: string, repo: string): Promise<{ files: Map<string, Buffer>; layers: Map<string, Blob> }> {
  const files = new Map<string, Buffer>();
  const layers = new Map<string, Blob>();
  const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  save.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => save.on('close', resolve));
  const tar = extract();
  const finished = new Promise<void>((resolve, reject) => {
    tar.on('entry', (header, stream, next) => {
      const step = header.name.endsWith('/layer.tar')
        ? uploadBlob(base, repo, stream).then((blob) => void layers.set(header.name, blob))
        : (async () => {
            const chunks: Buffer[] = [];
            for await (const c of stream) chunks.push(c as Buffer);
            files.set(header.name, Buffer.concat(chunks));
          })();
      step.then(() => next(), reject);
    });
    tar.on('finish', resolve);
    tar.on('error', reject);
  });
  save.stdout.pipe(tar);
  await finished;
  if ((await exited) !== 0) throw new Error(`docker save ${image} failed: ${stderr.trim()}`);
  return { files, layers };
}

async function putBlob(base: string, repo: string, bytes: Buffer): Promise<Blob> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const started = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const url = new URL(started.headers.get('location')!, base);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  if (put.status !== 201) throw new Error(`registry: config blob ${digest} answered ${put.status}`);
  return { digest, size: bytes.length };
}

/** Pushes `image` as `<registry>/<repo>:<tag>`; returns `<registry>/<repo>@sha256:...`. */
export async function pushToRegistry(image: string, registry: string, repo: string, tag = 'latest'): Promise<string> {
  const base = `http://${registry}`;
  const { files, layers } = await uploadSaved(image, base, repo);
  const saved = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '[]') as { Config: string; Layers: string[] }[];
  if (saved.length !== 1) throw new Error(`docker save ${image}: expected one image in manifest.json, got ${saved.length}`);
  const config = await putBlob(base, repo, files.get(saved[0].Config)!);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: saved[0].Layers.map((path) => {
        const blob = layers.get(path);
        if (!blob) throw new Error(`docker save ${image}: layer ${path} is listed but was not in the archive`);
        return { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob };
      }),
    }),
  );
  const put = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  if (put.status !== 201) throw new Error(`registry: manifest for ${repo}:${tag} answered ${put.status}: ${await put.text()}`);
  return `${registry}/${repo}@sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}
