/**
 * A model registry kept in the store, with no server: named models, numbered
 * versions, aliases that move (`champion`), tags and lineage.
 *
 *   <store>/registry/<model>/versions/<n>.json   one record per version
 *   <store>/registry/<model>/models/<n>/         the version's files (model.json, weights.bin)
 *   <store>/registry/<model>/aliases.json        { aliases: { champion: n }, history: [...] }
 *
 * Every file is written atomically (a reader sees the old or the new file,
 * never half of one), and a version's files are published before its record,
 * so a record never points at missing files. Registrations of the same model
 * name are not serialised across processes: run one registering flow per
 * model name at a time (a flow's run lock does this for repeated runs).
 */
import { createHash } from 'node:crypto';
import type { DirectoryTarget, FileTarget } from '../../src';
import { directoryAt, fileAt, listUnder } from '../store';

/** Thrown for a registry request that cannot be met: unknown version or alias, bad name. */
/** The model name flows and the registry CLI use unless told otherwise. */
export const DEFAULT_MODEL_NAME = 'mnist-digits';

export class RegistryError extends Error {
  constructor(
    message: string,
    /** 'missing': no such version or alias; 'invalid': a bad name. */
    readonly kind: 'missing' | 'invalid',
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** One registered version, as stored in `versions/<n>.json`. */
export interface ModelVersion {
  readonly model: string;
  readonly version: number;
  readonly createdAt: string;
  /** sha256 over the version's files (name and bytes, in name order): the model's identity. */
  readonly contentSha256: string;
  /** Each file's sha256. */
  readonly files: Readonly<Record<string, string>>;
  /** Where the files are, for loaders. */
  readonly uri: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Numbers to compare versions by (e.g. testAccuracy). */
  readonly metrics: Readonly<Record<string, unknown>>;
  /** Where the model came from: data, parameters, code, run. Free-form JSON. */
  readonly lineage: Readonly<Record<string, unknown>>;
}

/** One alias change, kept in `aliases.json`. */
export interface AliasChange {
  readonly alias: string;
  readonly version: number;
  readonly previous: number | null;
  readonly at: string;
  readonly reason: string;
}

interface AliasFile {
  aliases: Record<string, number>;
  history: AliasChange[];
}

export interface RegisterRequest {
  /** File name -> bytes: the model's files (e.g. model.json and weights.bin). */
  readonly files: Readonly<Record<string, Uint8Array>>;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly lineage: Readonly<Record<string, unknown>>;
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Moves `alias` to the new version when there is no version under it yet
   * or `better(newMetrics, currentMetrics)` holds.
   */
  readonly promote?: { readonly alias: string; readonly better: (candidate: ModelVersion, current: ModelVersion) => boolean };
}

export interface RegisterResult {
  readonly version: ModelVersion;
  /** False when a version with the same content already existed: nothing was written. */
  readonly created: boolean;
  /** The aliases this registration moved to the version. */
  readonly promoted: readonly string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** sha256 over file names and contents in name order. */
export function contentHash(files: Readonly<Record<string, Uint8Array>>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    hash.update(`${name}\0${files[name].byteLength}\0`);
    hash.update(files[name]);
  }
  return hash.digest('hex');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The registry of one model name in a store (a folder or an s3:// prefix). */
export class ModelRegistry {
  constructor(
    readonly store: string,
    readonly model: string,
  ) {
    if (!NAME.test(model)) throw new RegistryError(`model name "${model}" is not valid: use letters, digits, '.', '_' and '-' (at most 100).`, 'invalid');
  }

  private file(...parts: string[]): FileTarget {
    return fileAt(this.store, 'registry', this.model, ...parts);
  }

  /** The directory holding version `n`'s files. */
  filesOf(version: number): DirectoryTarget {
    return directoryAt(this.store, 'registry', this.model, 'models', String(version));
  }

  /** Every version, oldest first. */
  async versions(): Promise<ModelVersion[]> {
    const numbers = (await listUnder(directoryAt(this.store, 'registry', this.model, 'versions')))
      .map((name) => /^(\d+)\.json$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    return Promise.all(numbers.map((n) => this.version(n)));
  }

  async version(n: number): Promise<ModelVersion> {
    const file = this.file('versions', `${n}.json`);
    if (!(await file.exists())) throw new RegistryError(`model "${this.model}" has no version ${n} in ${this.store}.`, 'missing');
    return file.readJson<ModelVersion>();
  }

  async aliases(): Promise<Record<string, number>> {
    return (await this.aliasFile()).aliases;
  }

  async aliasHistory(): Promise<AliasChange[]> {
    return (await this.aliasFile()).history;
  }

  private async aliasFile(): Promise<AliasFile> {
    const file = this.file('aliases.json');
    return (await file.exists()) ? file.readJson<AliasFile>() : { aliases: {}, history: [] };
  }

  /** A version by number ("3") or alias ("champion"). */
  async resolve(ref: string | number): Promise<ModelVersion> {
    if (typeof ref === 'number' || /^\d+$/.test(ref)) return this.version(Number(ref));
    const aliases = await this.aliases();
    if (!(ref in aliases)) {
      const known = Object.keys(aliases);
      throw new RegistryError(`model "${this.model}" has no alias "${ref}" (aliases: ${known.join(', ') || 'none'}).`, 'missing');
    }
    return this.version(aliases[ref]);
  }

  /** Points `alias` at `version` (which must exist), recording why. */
  async setAlias(alias: string, version: number, reason: string): Promise<AliasChange> {
    if (!NAME.test(alias) || /^\d+$/.test(alias)) throw new RegistryError(`alias "${alias}" is not valid: use a name that is not a number.`, 'invalid');
    await this.version(version);
    const file = await this.aliasFile();
    const change: AliasChange = { alias, version, previous: file.aliases[alias] ?? null, at: new Date().toISOString(), reason };
    file.aliases[alias] = version;
    file.history.push(change);
    await this.file('aliases.json').writeJson(file);
    return change;
  }

  /**
   * Registers a model: a new version, unless one with the same content
   * exists (then that one is returned, and nothing changes).
   */
  async register(request: RegisterRequest): Promise<RegisterResult> {
    const contentSha256 = contentHash(request.files);
    const existing = await this.versions();
    const same = existing.find((v) => v.contentSha256 === contentSha256);
    if (same) return { version: same, created: false, promoted: [] };

    const n = (existing.at(-1)?.version ?? 0) + 1;
    const files = this.filesOf(n);
    await files.write(async (dir) => {
      for (const [name, bytes] of Object.entries(request.files)) await dir.write(name, bytes);
    });
    const record: ModelVersion = {
      model: this.model,
      version: n,
      createdAt: new Date().toISOString(),
      contentSha256,
      files: Object.fromEntries(Object.entries(request.files).map(([name, bytes]) => [name, sha256(bytes)])),
      uri: files.uri,
      tags: { ...request.tags },
      metrics: request.metrics,
      lineage: request.lineage,
    };
    await this.file('versions', `${n}.json`).writeJson(record);

    const promoted: string[] = [];
    if (request.promote) {
      const { alias, better } = request.promote;
      const aliases = await this.aliases();
      const current = alias in aliases ? await this.version(aliases[alias]) : undefined;
      if (!current || better(record, current)) {
        await this.setAlias(alias, n, current ? `version ${n} beats version ${current.version}` : `first version under "${alias}"`);
        promoted.push(alias);
      }
    }
    return { version: record, created: true, promoted };
  }
}

/** Adds or replaces tags on a version (tags are the one mutable part of a record). */
export async function tagVersion(registry: ModelRegistry, version: number, tags: Readonly<Record<string, string>>): Promise<ModelVersion> {
  const record = await registry.version(version);
  const updated: ModelVersion = { ...record, tags: { ...record.tags, ...tags } };
  await fileAt(registry.store, 'registry', registry.model, 'versions', `${version}.json`).writeJson(updated);
  return updated;
}
