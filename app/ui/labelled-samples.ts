import { directoryAt, fileAt, listUnder, type StoreLocation } from '../../tasks/store';

/**
 * Which prediction-log samples the UI already saved as labels, per model:
 * `<store>/labelling/<model>/<batchId>.json`, one file per saved batch (the
 * request ids and labels in it). The labelling queue leaves these out and
 * marks them, so no sample is labelled twice.
 */
export interface SavedLabels {
  readonly batchId: string;
  readonly time: string;
  readonly samples: readonly { readonly requestId: string; readonly label: number }[];
}

const batchFile = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.json$/;

export async function writeSavedLabels(store: StoreLocation, model: string, saved: SavedLabels): Promise<void> {
  await fileAt(store, 'labelling', model, `${saved.batchId}.json`).writeJson(saved);
}

/** Request id -> the label saved for it (and in which batch). */
export async function readSavedLabels(store: StoreLocation, model: string): Promise<Map<string, { label: number; batchId: string }>> {
  const files = await listUnder(directoryAt(store, 'labelling', model)).catch(() => [] as string[]);
  const out = new Map<string, { label: number; batchId: string }>();
  for (const name of files.filter((f) => batchFile.test(f))) {
    const saved = await fileAt(store, 'labelling', model, name).readJson<SavedLabels>().catch(() => undefined);
    for (const s of saved?.samples ?? []) if (typeof s?.requestId === 'string') out.set(s.requestId, { label: s.label, batchId: saved!.batchId });
  }
  return out;
}
