/** `cohort predict`: class probabilities of a published model for the rows of a CSV file, through the coordinator's API or offline from a model file. */
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse } from 'csv-parse/sync';
import { MISSING_TOKENS, type ModelSpec } from '../../protocol/index.js';
import type { ImageFlagValues, ModelTools } from './model-tools.js';
import { readPublishedModel } from './model-command.js';

interface PredictOptions extends ImageFlagValues {
  model: string;
  key?: string;
  data: string;
  coordinator: string;
  token?: string;
  federation?: string;
  label?: string;
  json: boolean;
}

/** GET/POST against the API with the token; a non-2xx answer becomes an Error with the API's code and message. */
async function call<T>(o: PredictOptions, token: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${o.coordinator.replace(/\/$/, '')}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${path}: ${res.status} ${json.error ? `${json.error.code}: ${json.error.message}` : ''}`);
  return json;
}

/**
 * Turns CSV records into the API's rows: tabular models take their features by name (other
 * columns, such as the label, are left out); models without feature names take every column but
 * the label as `pixels`.
 * @example csvRows(spec, ['age', 'bmi', 'risk'], [['50', '24', 'low']], 'risk')
 */
export function csvRows(
  spec: ModelSpec,
  header: string[],
  records: string[][],
  label?: string,
): Record<string, number | number[] | string | null>[] {
  if (spec.preprocessing) {
    // Raw columns, as the sites' CSVs hold them: the model's preprocessing (imputation, categories) is applied where it runs.
    const columns = spec.preprocessing.columns.map((c) => c.name);
    const tokens = new Set(MISSING_TOKENS.map((t) => t.toLowerCase()));
    return records.map((r) =>
      Object.fromEntries(
        columns
          .filter((c) => header.includes(c))
          .map((c) => {
            const cell = r[header.indexOf(c)] ?? '';
            return [c, tokens.has(cell.trim().toLowerCase()) ? null : cell];
          }),
      ),
    );
  }
  const num = (cell: string | undefined, where: string): number => {
    const v = cell === undefined || cell === '' ? Number.NaN : Number(cell);
    if (!Number.isFinite(v)) throw new Error(`${where}: "${cell ?? ''}" is not a finite number`);
    return v;
  };
  if (spec.features) {
    const missing = spec.features.filter((f) => !header.includes(f));
    if (missing.length > 0) throw new Error(`the CSV lacks the model's feature column(s) ${missing.join(', ')}`);
    const cols = spec.features.map((f) => header.indexOf(f));
    return records.map((r, i) => Object.fromEntries(spec.features!.map((f, j) => [f, num(r[cols[j]!], `data row ${i + 1}, column ${f}`)])));
  }
  const cols = header.map((_, j) => j).filter((j) => header[j] !== label);
  return records.map((r, i) => ({ pixels: cols.map((j) => num(r[j], `data row ${i + 1}, column ${header[j]}`)) }));
}

/** A model version (a number, through the API) or a model file (offline). */
const isModelFile = (model: string): boolean => !/^\d+$/.test(model) || existsSync(model);

export function predictCommand(tools: ModelTools): Command {
  return tools
    .withImageFlags(new Command('predict'))
    .description("predict the rows of a CSV file with a published model: a version through the coordinator's API, or a model file offline")
    .requiredOption(
      '--model <version|file>',
      'model version (through the API), or a model file (models/<federation>/v<N>.cohort, or a download) to use offline',
    )
    .requiredOption(
      '--data <file.csv>',
      "CSV with a header row: the model's feature columns (other columns are ignored), or pixel columns for an image model; or images:DIR / dicom:MANIFEST.csv (labelled images: a per-class report follows)",
    )
    .option(
      '--key <pubfile>',
      "offline: the coordinator's public key file; the model file's signature (and its card beside it) is checked before use",
    )
    .option('--coordinator <url>', 'the coordinator', 'http://127.0.0.1:7400')
    .option('--token <token>', 'API token (default: $COHORT_TOKEN)')
    .option('--federation <id>', 'federation id (default: the only one the token sees)')
    .option('--label <column>', 'a label column: left out of the inputs, and the accuracy is reported')
    .option('--json', 'print the answer as JSON', false)
    .action(async (o: PredictOptions) => {
      const offline = isModelFile(o.model);
      let spec: ModelSpec;
      let predictRows: (rows: ReturnType<typeof csvRows>) => Promise<{ classes: string[]; probabilities: number[][] }>;
      let federation: string | undefined = o.federation;
      let closeRunner = async (): Promise<void> => {};
      if (offline) {
        const model = readPublishedModel(o.model, o.key);
        spec = model.spec;
        const { predict } = await import('../models/index.js');
        const runner = tools.createModelRunner();
        closeRunner = () => runner.close();
        predictRows = async (rows) => predict(runner, { key: o.model, digest: '', spec, tensors: model.tensors }, rows);
      } else {
        const token = o.token ?? process.env.COHORT_TOKEN;
        if (!token)
          throw new Error(
            'an API token is needed: --token or COHORT_TOKEN (cohort tokens create), or give a model file to predict offline',
          );
        if (!federation) {
          const { federations } = await call<{ federations: { id: string }[] }>(o, token, '/api/federations');
          if (federations.length !== 1)
            throw new Error(`name the federation with --federation (${federations.map((f) => f.id).join(', ') || 'none visible'})`);
          federation = federations[0]!.id;
        }
        const path = `/api/federations/${encodeURIComponent(federation)}`;
        spec = (await call<{ spec: ModelSpec }>(o, token, path)).spec;
        predictRows = (rows) => call(o, token, `${path}/models/${o.model}/predict`, { rows });
      }
      const images = await tools.imageRows(spec, o.data, o).catch(async (err: Error) => {
        await closeRunner();
        throw err;
      });
      const { rows, labels } = images ?? csvData(spec, o);
      const probabilities: number[][] = [];
      let classes: string[] = [];
      // Image rows are large (784 numbers each): smaller batches keep each request under the API's 1 MiB body limit.
      const batch = spec.features ? 256 : 64;
      try {
        for (let at = 0; at < rows.length; at += batch) {
          const out = await predictRows(rows.slice(at, at + batch));
          classes = out.classes;
          probabilities.push(...out.probabilities);
        }
      } finally {
        await closeRunner();
      }
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ ...(federation ? { federation } : {}), model: o.model, classes, probabilities }, null, 2)}\n`,
        );
        return;
      }
      let correct = 0;
      process.stdout.write(`row  predicted  probability${labels ? '  label' : ''}\n`);
      probabilities.forEach((p, i) => {
        const best = p.indexOf(Math.max(...p));
        if (labels && labels[i] === classes[best]) correct += 1;
        process.stdout.write(
          `${String(i + 1).padStart(3)}  ${String(classes[best]).padEnd(9)}  ${(p[best] ?? 0).toFixed(4)}${labels ? `       ${labels[i]}` : ''}\n`,
        );
      });
      if (labels) process.stdout.write(`accuracy ${(correct / labels.length).toFixed(4)} (${correct}/${labels.length})\n`);
      if (images) {
        const { classificationReport, formatReport } = await import('../models/classification-report.js');
        const index = new Map(classes.map((c, i) => [c, i]));
        const predicted = probabilities.map((p) => p.indexOf(Math.max(...p)));
        process.stdout.write(
          `\n${formatReport(
            classificationReport(
              images.labels.map((l) => index.get(l) as number),
              predicted,
              classes,
            ),
          )}\n`,
        );
      }
    });
}

/** A CSV's rows as the API takes them, and its labels when `--label` names a column. */
function csvData(spec: ModelSpec, o: PredictOptions): { rows: ReturnType<typeof csvRows>; labels: string[] | undefined } {
  const [header, ...records] = parse(readFileSync(o.data, 'utf8'), { skip_empty_lines: true, trim: true, bom: true }) as string[][];
  if (!header || records.length === 0) throw new Error(`${o.data}: needs a header row and at least one data row`);
  if (o.label && !header.includes(o.label)) throw new Error(`${o.data} has no column ${o.label}`);
  const rows = csvRows(spec, header, records, o.label);
  return { rows, labels: o.label ? records.map((r) => r[header.indexOf(o.label!)] ?? '') : undefined };
}
