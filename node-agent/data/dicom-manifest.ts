/** A DICOM data set named by a manifest CSV (`file,label`, optional `site`; paths relative to the CSV), decoded into memory. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { decodeDicom } from './dicom.js';
import type { BadFile } from './image-decode.js';
import { checkImageMemory, imageSizeFor, type ImageOptions } from './image-options.js';
import { resizeChannel } from './image-resize.js';
import { badFilePolicy, type ImageSet } from './image-set.js';

/** The rows of a manifest: absolute file paths, label values and (when the column exists) sites. */
export interface DicomManifest {
  files: string[];
  labels: string[];
  sites?: string[];
}

const collator = new Intl.Collator('en', { numeric: true });

/**
 * Reads a manifest CSV with a header naming `file` and `label` (and optionally `site`); errors name the line.
 * @example readDicomManifest('study/manifest.csv').files[0] // '/abs/study/images/0001.dcm'
 */
export function readDicomManifest(path: string): DicomManifest {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(readFileSync(path, 'utf8'), { info: true, skip_empty_lines: true, trim: true, bom: true }) as unknown as typeof rows;
  } catch (cause) {
    throw new Error(`dicom:${path}: cannot read the manifest CSV: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const [head, ...body] = rows;
  const header = head?.record ?? [];
  const [fileCol, labelCol, siteCol] = ['file', 'label', 'site'].map((name) => header.indexOf(name)) as [number, number, number];
  if (fileCol < 0 || labelCol < 0)
    throw new Error(
      `dicom:${path}: the header must name columns "file" and "label" (optionally "site"); it has ${header.join(', ') || 'nothing'}`,
    );
  if (body.length === 0) throw new Error(`dicom:${path}: header row but no files`);
  const base = dirname(resolve(path));
  const cell = (record: string[], col: number, line: number, name: string): string => {
    const v = record[col] ?? '';
    if (v === '') throw new Error(`dicom:${path}: line ${line}: empty ${name}`);
    return v;
  };
  const files = body.map(({ record, info }) => {
    const file = cell(record, fileCol, info.lines, 'file');
    return isAbsolute(file) ? file : resolve(base, file);
  });
  const labels = body.map(({ record, info }) => cell(record, labelCol, info.lines, 'label'));
  const sites = siteCol >= 0 ? body.map(({ record, info }) => cell(record, siteCol, info.lines, 'site')) : undefined;
  return { files, labels, ...(sites ? { sites } : {}) };
}

/**
 * The classes of a manifest's labels: distinct, sorted (numerically when all are numbers).
 * @example dicomClasses(['10', '9', '10']) // ['9', '10']
 */
export function dicomClasses(labels: readonly string[]): string[] {
  const distinct = [...new Set(labels)];
  return distinct.every((v) => Number.isFinite(Number(v)))
    ? distinct.sort((a, b) => Number(a) - Number(b))
    : distinct.sort(collator.compare);
}

/** One file decoded and resized to h x w, replicated to c channels (interleaved). */
export function decodeOne(path: string, h: number, w: number, c: 1 | 3): Float32Array {
  const image = decodeDicom(readFileSync(path), path);
  const grey = resizeChannel(image.values, image.height, image.width, h, w);
  if (c === 1) return grey;
  const out = new Float32Array(h * w * 3);
  for (let i = 0; i < grey.length; i++) out.fill(grey[i] as number, 3 * i, 3 * i + 3);
  return out;
}

/**
 * Decodes every DICOM file of a manifest (see decodeDicom) to `--image-size` (default 28x28) and `--channels`
 * (default 1; 3 repeats the grey value). Classes are the distinct labels, sorted (numerically when numbers). Bad
 * files are refused or skipped per `onBadFile`; too large a set is refused before decoding.
 * @example loadDicomManifest('study/manifest.csv', { size: [64, 64] }).imageShape // [64, 64, 1]
 */
export function loadDicomManifest(
  path: string,
  opts: ImageOptions = {},
  warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): ImageSet {
  const what = `dicom:${path}`;
  const manifest = readDicomManifest(path);
  const channels = opts.channels ?? 1;
  const [h, w] = imageSizeFor(opts, channels);
  checkImageMemory(what, manifest.files.length, [h, w, channels], opts.maxMemoryMb);
  const size = h * w * channels;
  const pixels = new Float32Array(manifest.files.length * size);
  const bad: BadFile[] = [];
  const keep: number[] = [];
  manifest.files.forEach((file, i) => {
    try {
      pixels.set(decodeOne(file, h, w, channels), keep.length * size);
      keep.push(i);
    } catch (cause) {
      bad.push({ path: file, reason: (cause instanceof Error ? cause.message : String(cause)).replace(`${file}: `, '') });
    }
  });
  const line = badFilePolicy(what, bad, opts.onBadFile);
  if (line) warn(line);
  const labels = keep.map((i) => manifest.labels[i] as string);
  const classes = dicomClasses(labels);
  const index = new Map(classes.map((c, i) => [c, i]));
  return {
    pixels: keep.length === manifest.files.length ? pixels : pixels.slice(0, keep.length * size),
    labels: Int32Array.from(labels, (l) => index.get(l) as number),
    classes,
    imageShape: [h, w, channels],
    files: keep.map((i) => manifest.files[i] as string),
    skipped: bad,
    ...(manifest.sites ? { sites: keep.map((i) => manifest.sites?.[i] as string) } : {}),
  };
}
