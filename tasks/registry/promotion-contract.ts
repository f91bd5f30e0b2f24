/**
 * A registered model's promotion contract: the one rule by which `champion`
 * moves, declared once and kept, versioned, in the registry:
 *
 *   <store>/registry/<model>/contracts/<n>.json   contract version n (never rewritten)
 *
 * The highest n is in force. A contract names the evaluation sources and
 * their weights, the metric, the minimum margin a candidate must beat the
 * champion by, and per-source guard rails (no source may fall by more than
 * N percentage points). Declaring a new one is recorded as a new version,
 * with who-knows-why in `reason`; old versions stay so every alias decision
 * can be traced to the contract it was made under.
 */
import { withStoreLock } from '../../src/public/store';
import { directoryAt, fileAt, listUnder } from '../store';
import { RegistryError, RegistryFileError, type ModelRegistry } from './registry';

/** The alias a contract governs. */
export const CONTRACT_ALIAS = 'champion';

export type ContractMetric = 'accuracy' | 'macro-f1';

export interface ContractSource {
  /** A data source name the scorer knows (e.g. `mnist-test`, `optdigits:heldout`, `labels:<batch>`). */
  readonly source: string;
  /** Its share of the contract score (weights are normalised). */
  readonly weight: number;
  /** Guard rail: the candidate may score at most this many percentage points below the champion here. */
  readonly maxDropPoints?: number;
}

/** What a user declares. */
export interface PromotionContractSpec {
  readonly sources: readonly ContractSource[];
  readonly metric: ContractMetric;
  /** The candidate's weighted score must exceed the champion's by at least this much (0.002 = 0.2 points), and by more than 0. */
  readonly minMargin: number;
  readonly reason?: string;
}

/** A stored contract version. */
export interface PromotionContract extends PromotionContractSpec {
  readonly model: string;
  readonly version: number;
  readonly declaredAt: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a declaration; throws RegistryError('invalid') saying what is wrong and how to fix it. */
export function validateContractSpec(value: unknown): PromotionContractSpec {
  const bad = (what: string): never => {
    throw new RegistryError(
      `promotion contract is not valid: ${what}. Expected {"sources":[{"source":"mnist-test","weight":0.5,"maxDropPoints":2},...],"metric":"accuracy"|"macro-f1","minMargin":0.002}.`,
      'invalid',
    );
  };
  if (!isObject(value)) return bad('not a JSON object');
  const { sources, metric, minMargin, reason } = value;
  if (!Array.isArray(sources) || sources.length === 0) return bad('"sources" must be a non-empty list');
  const seen = new Set<string>();
  for (const s of sources) {
    if (!isObject(s) || typeof s.source !== 'string' || s.source === '') return bad('each source needs a "source" name');
    if (seen.has(s.source)) return bad(`source "${s.source}" is listed twice`);
    seen.add(s.source);
    if (typeof s.weight !== 'number' || !(s.weight > 0) || !Number.isFinite(s.weight)) return bad(`source "${s.source}" needs a "weight" > 0`);
    if (s.maxDropPoints !== undefined && (typeof s.maxDropPoints !== 'number' || !(s.maxDropPoints >= 0))) return bad(`source "${s.source}": "maxDropPoints" must be a number >= 0`);
  }
  if (metric !== 'accuracy' && metric !== 'macro-f1') return bad(`"metric" must be "accuracy" or "macro-f1", got ${JSON.stringify(metric)}`);
  if (typeof minMargin !== 'number' || !(minMargin >= 0) || minMargin >= 1) return bad('"minMargin" must be a number in [0, 1)');
  if (reason !== undefined && typeof reason !== 'string') return bad('"reason" must be a string');
  return {
    sources: sources.map((s) => ({ source: s.source, weight: s.weight, ...(s.maxDropPoints !== undefined ? { maxDropPoints: s.maxDropPoints } : {}) })),
    metric,
    minMargin,
    ...(reason !== undefined ? { reason } : {}),
  };
}

const contractsDir = (registry: ModelRegistry) => directoryAt(registry.store, 'registry', registry.model, 'contracts');
const contractFile = (registry: ModelRegistry, n: number) => fileAt(registry.store, 'registry', registry.model, 'contracts', `${n}.json`);

async function contractNumbers(registry: ModelRegistry): Promise<number[]> {
  return (await listUnder(contractsDir(registry)))
    .map((name) => /^(\d+)\.json$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

async function readContract(registry: ModelRegistry, n: number): Promise<PromotionContract> {
  const file = contractFile(registry, n);
  const repair = `Move it aside and declare the contract again (\`dagwright registry contract set <file>\`); decisions already recorded keep their scores.`;
  let value: unknown;
  try {
    value = JSON.parse(await file.readText());
  } catch (err) {
    throw new RegistryFileError(file.uri, `not JSON: ${(err as Error).message}`, repair);
  }
  if (!isObject(value) || value.version !== n) throw new RegistryFileError(file.uri, 'valid JSON, but not a promotion contract', repair);
  try {
    validateContractSpec(value);
  } catch (err) {
    throw new RegistryFileError(file.uri, (err as Error).message, repair);
  }
  return value as unknown as PromotionContract;
}

/** The contract in force, or null when none was declared (then today's per-path rules decide, and say so). */
export async function currentContract(registry: ModelRegistry): Promise<PromotionContract | null> {
  const numbers = await contractNumbers(registry);
  return numbers.length === 0 ? null : readContract(registry, numbers[numbers.length - 1]);
}

/** Every contract version, oldest first. */
export async function contractHistory(registry: ModelRegistry): Promise<PromotionContract[]> {
  return Promise.all((await contractNumbers(registry)).map((n) => readContract(registry, n)));
}

/** Declares a new contract version (validated first: a bad declaration writes nothing). */
export async function declareContract(registry: ModelRegistry, spec: unknown): Promise<PromotionContract> {
  const valid = validateContractSpec(spec);
  return withStoreLock(registry.store, `registry/${registry.model}`, async () => {
    let n = Math.max(0, ...(await contractNumbers(registry))) + 1;
    for (;;) {
      const contract: PromotionContract = { model: registry.model, version: n, declaredAt: new Date().toISOString(), ...valid };
      if (await contractFile(registry, n).writeIfAbsent(`${JSON.stringify(contract, null, 2)}\n`)) return contract;
      n++;
    }
  });
}
