/**
 * A model registry kept in the store, with no server: named models, numbered
 * versions, aliases that move (`champion`), tags and lineage.
 *
 *   <store>/registry/<model>/versions/<n>.json   one record per version
 *   <store>/registry/<model>/models/<n>/         the version's files (model.json, weights.bin)
 *   <store>/registry/<model>/claims/<n>          version number n is taken (written first, exclusively)
 *   <store>/registry/<model>/aliases.json        { aliases: { champion: n }, history: [...], decisions: [...] }
 *
 * Every file is written atomically (a reader sees the old or the new file,
 * never half of one), and a version's files are published before its record,
 * so a record never points at missing files. Concurrent registrations (in one
 * process, or several) get distinct versions: updates hold the store lock
 * `registry/<model>` (see `withStoreLock`; for an s3:// store it excludes
 * writers on one machine), and a version number is claimed by a write that
 * succeeds only if the claim is absent (an exclusive create locally,
 * `If-None-Match: *` on S3), which also holds across machines on servers that
 * honour it. A damaged file is reported by name with how to repair it.
 */
import { createHash } from 'node:crypto';
import { DagwrightError, type DirectoryTarget, type FileTarget } from '../../src';
import { withStoreLock } from '../../src/public/store';
import { directoryAt, fileAt, listUnder, type StoreLocation } from '../store';
import type { PromotionEvidence, PromotionVerdict } from './promotion-evidence';

/** The model name flows and the registry CLI use unless told otherwise. */
export const DEFAULT_MODEL_NAME = 'mnist-digits';

/** The alias the best version holds: registrations move it, servers follow it, drift monitors check it. */
export const CHAMPION = 'champion';

/** Thrown for a registry request that cannot be met: unknown version or alias, bad name, a damaged file. Not retryable. */
export class RegistryError extends DagwrightError {
  constructor(
    message: string,
    /**
     * 'missing': no such version or alias; 'invalid': a bad name; 'damaged': a registry file cannot be read;
     * 'refused': the promotion contract does not allow the move.
     */
    readonly kind: 'missing' | 'invalid' | 'damaged' | 'refused',
  ) {
    super(message);
  }
}

/** A registry file is not valid JSON of its kind (cut short, edited by hand): names the file and how to repair it. */
export class RegistryFileError extends RegistryError {
  constructor(
    /** The damaged file's URI or path. */
    readonly file: string,
    readonly problem: string,
    readonly repair: string,
  ) {
    super(`registry file ${file} is damaged (${problem}). ${repair}`, 'damaged');
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
  /** Scores, margin and contract version behind the move (tasks/registry/promotion.ts); absent for moves made before contracts. */
  readonly evidence?: PromotionEvidence;
}

/** A registration's verdict on an alias: whether the new version took it, and from whom. Recorded for every registration that asks. */
export interface AliasDecision {
  readonly alias: string;
  readonly version: number;
  readonly promoted: boolean;
  /** The version holding the alias when the decision was made. */
  readonly holder: number | null;
  readonly at: string;
  readonly reason?: string;
  readonly evidence?: PromotionEvidence;
}

interface AliasFile {
  aliases: Record<string, number>;
  history: AliasChange[];
  decisions?: AliasDecision[];
}

/** Reads a registry JSON file; a damaged one throws `RegistryFileError` naming it and `repair`. */
async function readRegistryJson<T>(file: FileTarget, valid: (value: unknown) => boolean, repair: string): Promise<T> {
  const text = await file.readText();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RegistryFileError(file.uri, text.trim() === '' ? 'it is empty' : `not JSON: ${(err as Error).message}`, repair);
  }
  if (!valid(value)) throw new RegistryFileError(file.uri, 'valid JSON, but not a registry record of its kind', repair);
  return value as T;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAliasFile = (v: unknown): boolean => isObject(v) && isObject(v.aliases) && Array.isArray(v.history) && (v.decisions === undefined || Array.isArray(v.decisions));
const isVersionRecord = (n: number) => (v: unknown): boolean => isObject(v) && v.version === n && typeof v.contentSha256 === 'string';

export interface RegisterRequest {
  /** File name -> bytes: the model's files (e.g. model.json and weights.bin). */
  readonly files: Readonly<Record<string, Uint8Array>>;
  readonly metrics: Readonly<Record<string, unknown>>;
  readonly lineage: Readonly<Record<string, unknown>>;
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Moves `alias` to the new version when `decide` says so (see
   * tasks/registry/promotion.ts: championPromotion decides `champion` under
   * the model's contract), or, for other aliases, when there is no version
   * under it yet or `better(newMetrics, currentMetrics)` holds.
   */
  readonly promote?: {
    readonly alias: string;
    readonly better?: (candidate: ModelVersion, current: ModelVersion) => boolean;
    readonly decide?: (candidate: ModelVersion, current: ModelVersion | undefined) => Promise<PromotionVerdict>;
  };
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

/** A decision was recorded for `version`, or the alias was moved to it (by a registration or by hand). */
function decidedIn(file: AliasFile, alias: string, version: number): boolean {
  return (file.decisions ?? []).some((d) => d.alias === alias && d.version === version) || file.history.some((h) => h.alias === alias && h.version === version);
}

/** Numbers from names such as `3.json` or `3`, ascending. */
function numbered(names: readonly string[], pattern: RegExp): number[] {
  return names
    .map((name) => pattern.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The registry of one model name in a store (a folder or an s3:// prefix). */
export class ModelRegistry {
  constructor(
    readonly store: StoreLocation,
    readonly model: string,
  ) {
    if (!NAME.test(model)) throw new RegistryError(`model name "${model}" is not valid: use letters, digits, '.', '_' and '-' (at most 100).`, 'invalid');
  }

  private file(...parts: string[]): FileTarget {
    return fileAt(this.store, 'registry', this.model, ...parts);
  }

  /** Holds this model's store lock around a read-modify-write. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return withStoreLock(this.store, `registry/${this.model}`, fn);
  }

  /** The directory holding version `n`'s files. */
  filesOf(version: number): DirectoryTarget {
    return directoryAt(this.store, 'registry', this.model, 'models', String(version));
  }

  private async versionNumbers(): Promise<number[]> {
    return numbered(await listUnder(directoryAt(this.store, 'registry', this.model, 'versions')), /^(\d+)\.json$/);
  }

  /** Every version, oldest first. */
  async versions(): Promise<ModelVersion[]> {
    return Promise.all((await this.versionNumbers()).map((n) => this.version(n)));
  }

  async version(n: number): Promise<ModelVersion> {
    const file = this.file('versions', `${n}.json`);
    if (!(await file.exists())) throw new RegistryError(`model "${this.model}" has no version ${n} in ${this.store}.`, 'missing');
    return readRegistryJson<ModelVersion>(
      file,
      isVersionRecord(n),
      `Remove it and run the flow that registered version ${n} again (its files, if any, are in ${this.filesOf(n).uri}); the registration then records it anew.`,
    );
  }

  async aliases(): Promise<Record<string, number>> {
    return (await this.aliasFile()).aliases;
  }

  async aliasHistory(): Promise<AliasChange[]> {
    return (await this.aliasFile()).history;
  }

  /** Whether a registration decided `alias` for `version` (moved it there, or kept it where it was). */
  async aliasDecided(alias: string, version: number): Promise<boolean> {
    return decidedIn(await this.aliasFile(), alias, version);
  }

  private async aliasFile(): Promise<AliasFile> {
    const file = this.file('aliases.json');
    if (!(await file.exists())) return { aliases: {}, history: [] };
    return readRegistryJson<AliasFile>(
      file,
      isAliasFile,
      `Move it aside (the aliases then start empty), then point them again by hand (\`registry alias champion <version>\`) ` +
        'or run the register flow again, which records its alias decision anew.',
    );
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

  /**
   * Points `alias` at `version` (which must exist), recording why. Once a
   * promotion contract is declared, `champion` moves only with a verdict
   * made under that contract (tasks/registry/promotion.ts: promoteVersion)
   * or with `force`.
   */
  async setAlias(alias: string, version: number, reason: string, options: { verdict?: PromotionVerdict; force?: boolean } = {}): Promise<AliasChange> {
    if (!NAME.test(alias) || /^\d+$/.test(alias)) throw new RegistryError(`alias "${alias}" is not valid: use a name that is not a number.`, 'invalid');
    return this.locked(async () => {
      await this.version(version);
      if (!options.force) await this.checkGoverned(alias, options.verdict);
      const file = await this.aliasFile();
      const change = this.moveAlias(file, alias, version, reason, options.verdict?.evidence);
      (file.decisions ??= []).push({ alias, version, promoted: true, holder: change.previous, at: change.at, reason, ...(options.verdict ? { evidence: options.verdict.evidence } : {}) });
      await this.file('aliases.json').writeJson(file);
      return change;
    });
  }

  /** Records a decision that left `alias` where it was (a refused request by hand), so the history says why. */
  async recordDecision(alias: string, version: number, holder: number | null, verdict: PromotionVerdict): Promise<void> {
    await this.locked(async () => {
      const file = await this.aliasFile();
      (file.decisions ??= []).push({ alias, version, promoted: verdict.promoted, holder, at: new Date().toISOString(), reason: verdict.reason, evidence: verdict.evidence });
      await this.file('aliases.json').writeJson(file);
    });
  }

  /** Every recorded decision (moves and refusals), oldest first. */
  async aliasDecisions(): Promise<AliasDecision[]> {
    return (await this.aliasFile()).decisions ?? [];
  }

  /** The promotion contract version in force (contracts/<n>.json, see promotion-contract.ts), or null. */
  private async contractInForce(): Promise<number | null> {
    const numbers = numbered(await listUnder(directoryAt(this.store, 'registry', this.model, 'contracts')), /^(\d+)\.json$/);
    return numbers.at(-1) ?? null;
  }

  /** Refuses to move `champion` without a verdict under the contract in force. */
  private async checkGoverned(alias: string, verdict: PromotionVerdict | undefined): Promise<void> {
    if (alias !== 'champion') return;
    const contract = await this.contractInForce();
    if (contract === null) return;
    if (verdict?.promoted && verdict.evidence.contractVersion === contract) return;
    throw new RegistryError(
      `"champion" of model "${this.model}" is governed by promotion contract version ${contract}` +
        (verdict ? `, and the decision offered was made ${verdict.evidence.contractVersion === null ? 'without it' : `under version ${verdict.evidence.contractVersion}`}${verdict.promoted ? '' : ' and refused'}` : '') +
        ': move it with `dagwright registry alias champion <version>` (scored under the contract) or promoteVersion() from tasks/registry/promotion.ts; add --force (force: true) to override, which is recorded.',
      'refused',
    );
  }

  private moveAlias(file: AliasFile, alias: string, version: number, reason: string, evidence?: PromotionEvidence): AliasChange {
    const change: AliasChange = { alias, version, previous: file.aliases[alias] ?? null, at: new Date().toISOString(), reason, ...(evidence ? { evidence } : {}) };
    file.aliases[alias] = version;
    file.history.push(change);
    return change;
  }

  /**
   * Registers a model: a new version, unless one with the same content
   * exists (then that one is returned and no version is written). With
   * `promote`, the alias decision for the version is made and recorded if
   * it was not yet (so a registration cut short before it is completed by
   * the next one).
   */
  async register(request: RegisterRequest): Promise<RegisterResult> {
    const contentSha256 = contentHash(request.files);
    return this.locked(async () => {
      // A registration that would decide `champion` by its own rule is refused before anything is written.
      if (request.promote && !request.promote.decide) await this.checkGoverned(request.promote.alias, undefined);
      const same = (await this.versions()).find((v) => v.contentSha256 === contentSha256);
      const version = same ?? (await this.createVersion(request, contentSha256));
      const promoted = request.promote ? await this.decideAlias(version, request.promote) : [];
      return { version, created: same === undefined, promoted };
    });
  }

  /** Claims the next free number (an exclusive write: a racing writer on another machine gets the one after), then writes files and record. */
  private async createVersion(request: RegisterRequest, contentSha256: string): Promise<ModelVersion> {
    const claims = numbered(await listUnder(directoryAt(this.store, 'registry', this.model, 'claims')), /^(\d+)$/);
    let n = Math.max(0, ...claims, ...(await this.versionNumbers())) + 1;
    while (!(await this.file('claims', String(n)).writeIfAbsent(`${JSON.stringify({ contentSha256, at: new Date().toISOString() })}\n`))) n++;
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
    return record;
  }

  /** Moves the alias to `version` when `decide` (or, without it, `better`) says so, and records the decision either way; once per version. */
  private async decideAlias(version: ModelVersion, promote: NonNullable<RegisterRequest['promote']>): Promise<string[]> {
    const { alias, better, decide } = promote;
    if (decidedIn(await this.aliasFile(), alias, version.version)) return [];
    const current = await this.aliases();
    const holder = alias in current ? await this.version(current[alias]) : undefined;
    let verdict: PromotionVerdict | undefined;
    if (decide) verdict = await decide(version, holder);
    const promoted = verdict ? verdict.promoted : !holder || (better !== undefined && better(version, holder));
    if (verdict?.promoted) await this.checkGoverned(alias, verdict);
    // Scoring can take a while: the file is read again so nothing written meanwhile is lost (the lock keeps writers of this model out).
    const file = await this.aliasFile();
    const reason = verdict?.reason ?? (holder ? `version ${version.version} ${promoted ? 'beats' : 'does not beat'} version ${holder.version}` : `first version under "${alias}"`);
    if (promoted) this.moveAlias(file, alias, version.version, reason, verdict?.evidence);
    (file.decisions ??= []).push({ alias, version: version.version, promoted, holder: holder?.version ?? null, at: new Date().toISOString(), reason, ...(verdict ? { evidence: verdict.evidence } : {}) });
    await this.file('aliases.json').writeJson(file);
    return promoted ? [alias] : [];
  }

  /** Adds or replaces tags on a version (tags are the one mutable part of a record). */
  async tag(version: number, tags: Readonly<Record<string, string>>): Promise<ModelVersion> {
    return this.locked(async () => {
      const record = await this.version(version);
      const updated: ModelVersion = { ...record, tags: { ...record.tags, ...tags } };
      await this.file('versions', `${version}.json`).writeJson(updated);
      return updated;
    });
  }
}

/** Adds or replaces tags on a version (tags are the one mutable part of a record). */
export function tagVersion(registry: ModelRegistry, version: number, tags: Readonly<Record<string, string>>): Promise<ModelVersion> {
  return registry.tag(version, tags);
}
