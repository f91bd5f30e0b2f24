import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FileSystem } from '../src/public/store';
import { localFileSystem } from '../src/targets/local-file-system';
import { temporarySibling } from '../src/targets/temporary-names';
import { freshBucket, s3TestClient, s3TestFileSystem } from './helpers/s3';

/**
 * What callers ask a file system instead of branching on its scheme: a
 * one-level listing, a change stamp, whether it is on this disk, the
 * environment a child process needs, and its path helpers.
 */
function describeFileSystem(name: string, make: () => Promise<{ fs: FileSystem; root: string }>, expectations: { local: boolean; environment: string[] }) {
  describe(name, () => {
    let fs: FileSystem;
    let root: string;
    beforeAll(async () => ({ fs, root } = await make()));

    it('lists one level: files and folders, not what the folders hold, not the directory marker nor unpublished writes', async () => {
      await fs.write(fs.join(root, 'runs/b.json'), '{}');
      await fs.write(fs.join(root, 'runs/a.json'), '{}');
      await fs.write(fs.join(root, 'runs/deep/z.json'), '{}'); // s3rver lists a folder holding only subfolders as nothing (real S3 does)
      await fs.write(fs.join(root, 'runs/deep/x/y.json'), '{}');
      await fs.writeDirectory(fs.join(root, 'runs/model'), async (d) => d.write('w.bin', 'w'));
      if (expectations.local) await writeFile(temporarySibling(fs.join(root, 'runs/c.json')), 'half');
      expect(await fs.list(fs.join(root, 'runs'))).toEqual([
        { name: 'a.json', kind: 'file' },
        { name: 'b.json', kind: 'file' },
        { name: 'deep', kind: 'folder' },
        { name: 'model', kind: 'folder' },
      ]);
      expect(await fs.list(fs.join(root, 'runs/model'))).toEqual([{ name: 'w.bin', kind: 'file' }]);
      expect(await fs.list(fs.join(root, 'nothing-here'))).toEqual([]);
    });

    it('gives a change stamp that moves when the file is replaced and is undefined when absent', async () => {
      const file = fs.join(root, 'registry/aliases.json');
      expect(await fs.stamp(file)).toBeUndefined();
      await fs.write(file, '{"champion":1}');
      const first = await fs.stamp(file);
      expect(first).toEqual(expect.any(String));
      expect(await fs.stamp(file)).toBe(first);
      await fs.write(file, '{"champion":2}');
      expect(await fs.stamp(file)).not.toBe(first);
    });

    it('says whether it is on this machine and what a child process needs to reach it', () => {
      const file = fs.join(root, 'runs/a.json');
      expect(fs.localPath(file) !== undefined).toBe(expectations.local);
      expect(fs.environment()).toEqual(expectations.environment);
    });

    it('joins, takes the parent and the relative name the way it names paths, and refuses paths outside', () => {
      const file = fs.join(root, 'runs/deep/x.json');
      expect(fs.parent(file)).toBe(fs.join(root, 'runs/deep'));
      expect(fs.relative(fs.join(root, 'runs'), file)).toBe('deep/x.json');
      expect(() => fs.relative(fs.join(root, 'other'), file)).toThrow(/is not inside/);
      expect(() => fs.join(root, '../escape')).toThrow();
    });
  });
}

describeFileSystem('local disk', async () => ({ fs: localFileSystem, root: await mkdtemp(join(tmpdir(), 'dagwright-fs-')) }), { local: true, environment: [] });

describeFileSystem(
  'S3 (s3rver)',
  async () => {
    const client = s3TestClient();
    return { fs: s3TestFileSystem({}, client), root: `s3://${await freshBucket(client, 'fs')}/store` };
  },
  { local: false, environment: ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'DAGWRIGHT_S3_FORCE_PATH_STYLE'] },
);
