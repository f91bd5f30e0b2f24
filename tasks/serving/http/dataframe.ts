/**
 * MLflow's DataFrame payloads as rows of model input: `dataframe_split`
 * (what MLflow's client sends for any pandas DataFrame, pandas' "split"
 * orient: `columns`, `data`, and an `index` that is ignored),
 * `dataframe_records` (a list of `{column: value}`), and `text/csv` (what
 * `DataFrame.to_csv()` writes: a header row, then one row per item).
 *
 * A frame is one item per row, either as one value per column (784 pixel
 * columns for MNIST) or as one column whose cells hold whole items (nested
 * lists); the adapter checks sizes and values.
 */
import { InferenceInputError } from '../errors';

export const DATAFRAME_SPLIT = 'dataframe_split';
export const DATAFRAME_RECORDS = 'dataframe_records';

export interface Frame {
  readonly columns: readonly string[];
  readonly data: readonly (readonly unknown[])[];
}

const SPLIT_EXAMPLE = '{"dataframe_split": {"columns": [...], "data": [[...], ...]}}';

/** The rows of a `dataframe_split` value; throws `InferenceInputError` naming what is off. */
export function splitFrame(value: unknown): Frame {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InferenceInputError(`"${DATAFRAME_SPLIT}" must be an object ${SPLIT_EXAMPLE} (pandas' DataFrame.to_dict(orient="split")).`);
  const { columns, data } = value as { columns?: unknown; data?: unknown };
  if (!Array.isArray(data) || !data.every(Array.isArray)) throw new InferenceInputError(`"${DATAFRAME_SPLIT}.data" must be a list of rows, each a list of values: ${SPLIT_EXAMPLE}.`);
  const width = data.length > 0 ? (data[0] as unknown[]).length : 0;
  const names = columns === undefined ? Array.from({ length: width }, (_, i) => String(i)) : columns;
  if (!Array.isArray(names)) throw new InferenceInputError(`"${DATAFRAME_SPLIT}.columns" must be a list of column names.`);
  (data as unknown[][]).forEach((row, i) => {
    if (row.length !== names.length) throw new InferenceInputError(`"${DATAFRAME_SPLIT}.data[${i}]" has ${row.length} values but there are ${names.length} columns.`);
  });
  return { columns: names.map(String), data: data as unknown[][] };
}

/** The rows of a `dataframe_records` value, in the column order of its first record. */
export function recordsFrame(value: unknown): Frame {
  const isRecord = (r: unknown): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r);
  if (!Array.isArray(value) || !value.every(isRecord)) throw new InferenceInputError(`"${DATAFRAME_RECORDS}" must be a list of records such as [{"column": value, ...}, ...] (pandas' DataFrame.to_dict(orient="records")).`);
  const columns = value.length > 0 ? Object.keys(value[0]) : [];
  const data = value.map((record, i) => {
    const keys = Object.keys(record);
    if (keys.length !== columns.length || !columns.every((c) => c in record)) {
      throw new InferenceInputError(`"${DATAFRAME_RECORDS}[${i}]" has columns ${JSON.stringify(keys.slice(0, 5))}${keys.length > 5 ? '...' : ''} unlike the first record's ${columns.length}: every record needs the same columns.`);
    }
    return columns.map((c) => record[c]);
  });
  return { columns, data };
}

/** The items of a frame: the cells of its one column, or each row's values. */
export function frameItems(frame: Frame): unknown[] {
  if (frame.data.length === 0) throw new InferenceInputError('the DataFrame has no rows: send one row per item.');
  if (frame.columns.length === 1 && Array.isArray(frame.data[0][0])) return frame.data.map((row) => row[0]);
  return frame.data.map((row) => [...row]);
}

/** One CSV record's fields from `text` at `start` (RFC 4180 quoting), and where the next record starts. */
function csvRecord(text: string, start: number): { fields: string[]; next: number } {
  const fields: string[] = [];
  let i = start;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      for (i++; ; i++) {
        if (i >= text.length) throw new InferenceInputError('the CSV body ends inside a quoted field: close every opening quote.');
        if (text[i] === '"' && text[i + 1] === '"') field += text[i++];
        else if (text[i] === '"') break;
        else field += text[i];
      }
      i++;
    } else {
      const end = text.slice(i).search(/[,\r\n]/);
      field = end < 0 ? text.slice(i) : text.slice(i, i + end);
      i = end < 0 ? text.length : i + end;
    }
    fields.push(field);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    return { fields, next: i + 1 };
  }
}

const csvValue = (field: string): unknown => {
  const trimmed = field.trim();
  if (trimmed === '') return null;
  const number = Number(trimmed);
  return Number.isNaN(number) ? trimmed : number;
};

/**
 * A `text/csv` body as a `dataframe_split` request: the first row names the
 * columns, as pandas reads it. A first column with an empty name (the index
 * `to_csv()` writes by default) is dropped.
 */
export function readCsvFrame(text: string): { [DATAFRAME_SPLIT]: Frame } {
  const rows: string[][] = [];
  for (let at = text.charCodeAt(0) === 0xfeff ? 1 : 0; at < text.length; ) {
    const { fields, next } = csvRecord(text, at);
    if (!(fields.length === 1 && fields[0].trim() === '')) rows.push(fields);
    at = next;
  }
  if (rows.length === 0) throw new InferenceInputError('the CSV body is empty: send a header row naming the columns, then one row per item (pandas DataFrame.to_csv()).');
  const [header, ...body] = rows;
  const dropIndex = header[0].trim() === '';
  const columns = dropIndex ? header.slice(1) : header;
  const data = body.map((row, i) => {
    if (row.length !== header.length) throw new InferenceInputError(`CSV row ${i + 2} has ${row.length} fields but the header has ${header.length}.`);
    return (dropIndex ? row.slice(1) : row).map(csvValue);
  });
  return { [DATAFRAME_SPLIT]: { columns, data } };
}
