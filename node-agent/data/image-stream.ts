/** Image data sets streamed from disk: listed and checked once, their pixels decoded a batch at a time (memory O(batch), not O(rows)). */
import { resolve } from 'node:path';
import { decodeOne, dicomClasses, readDicomManifest } from './dicom-manifest.js';
import { createImageDecoder, decodeImages, type BadFile, type ImageDecoder } from './image-decode.js';
import type { ImageLocation } from './image-data.js';
import { probeImageFolder, withoutBad } from './image-folder.js';
import { DEFAULT_MAX_MEMORY_MB, imageSizeFor, type ImageNormalize, type ImageOptions } from './image-options.js';
import { badFilePolicy, checkNormalize, imageValues, type ImageSet } from './image-set.js';
import type { StreamedDataset } from './row-stream.js';

/** An image set without its pixels: what a streamed data set keeps in memory (files, labels, shape). */
export type ImageCatalog = Omit<ImageSet, 'pixels'> & { where: ImageLocation; what: string };

/** Files decoded per chunk by the check pass (each chunk's pixels are dropped before the next). */
const CHECK_CHUNK = 256;

type Listed = { what: string; files: string[]; labels: string[] | number[]; classes?: string[]; shape: [number, number, 1 | 3] };
type Extra = { trainRows?: number; sites?: string[]; bad: BadFile[] };

const listings = new Map<string, Listed & Extra>();
const catalogs = new Map<string, ImageCatalog>();
const keyOf = (where: ImageLocation, opts: ImageOptions): string =>
  JSON.stringify([where.kind, resolve(where.kind === 'images' ? where.dir : where.manifest), opts.size, opts.channels, opts.onBadFile]);

/** The files, labels and shape of an image set, headers read but pixels not decoded (once per process and options). */
function listImages(where: ImageLocation, opts: ImageOptions): Listed & Extra {
  const key = keyOf(where, opts);
  const known = listings.get(key);
  if (known) return known;
  let listed: Listed & Extra;
  if (where.kind === 'images') {
    const { layout, shape, bad } = probeImageFolder(where.dir, opts);
    listed = { what: `images:${where.dir}`, ...layout, shape, bad };
  } else {
    const manifest = readDicomManifest(where.manifest);
    const channels = opts.channels ?? 1;
    listed = { what: `dicom:${where.manifest}`, ...manifest, shape: [...imageSizeFor(opts, channels), channels], bad: [] };
  }
  listings.set(key, listed);
  return listed;
}

/**
 * Whether the image set's pixels as float32 fit under `--max-memory-mb` (reads the listing and headers, not pixels).
 * @example imagesFitInMemory({ kind: 'images', dir: 'scans' }, { maxMemoryMb: 512 }) // true
 */
export function imagesFitInMemory(where: ImageLocation, opts: ImageOptions = {}): boolean {
  const { files, shape } = listImages(where, opts);
  return (files.length * shape[0] * shape[1] * shape[2] * 4) / 2 ** 20 <= (opts.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB);
}

/** The files among `files` that do not decode, checked a chunk at a time (PNG/JPEG in the sharp worker, DICOM here). */
function checkFiles(kind: ImageLocation['kind'], files: string[], [h, w, c]: [number, number, 1 | 3]): BadFile[] {
  const bad: BadFile[] = [];
  for (let i = 0; i < files.length; i += CHECK_CHUNK) {
    const chunk = files.slice(i, i + CHECK_CHUNK);
    if (kind === 'images') bad.push(...decodeImages(chunk, h, w, c).bad);
    else for (const file of chunk) bad.push(...dicomBad(file, h, w, c));
  }
  return bad;
}

/** Why a DICOM file failed, without the path the decoder's message starts with. */
const badDicom = (file: string, cause: unknown): BadFile => ({
  path: file,
  reason: (cause instanceof Error ? cause.message : String(cause)).replace(`${file}: `, ''),
});

/** A DICOM file's decoding failure as a BadFile (none when it decodes). */
function dicomBad(file: string, h: number, w: number, c: 1 | 3): BadFile[] {
  try {
    decodeOne(file, h, w, c);
    return [];
  } catch (cause) {
    return [badDicom(file, cause)];
  }
}

/**
 * The catalog of an image set for streaming: every file decoded once to check it (the pixels are dropped), bad files
 * refused or left out per `onBadFile` exactly as the in-memory loader does, so both paths see the same rows. Cached
 * per process and options.
 * @example imageCatalog({ kind: 'images', dir: 'scans' }, { size: [64, 64] }).files.length
 */
export function imageCatalog(
  where: ImageLocation,
  opts: ImageOptions = {},
  warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): ImageCatalog {
  const key = keyOf(where, opts);
  const known = catalogs.get(key);
  if (known) return known;
  const listed = listImages(where, opts);
  const decodedBad = checkFiles(where.kind, listed.files, listed.shape);
  const bad = [...listed.bad, ...decodedBad];
  const line = badFilePolicy(listed.what, bad, opts.onBadFile);
  if (line) warn(line);
  const badPaths = new Set(decodedBad.map((b) => b.path));
  const keep = listed.files.map((f) => !badPaths.has(f));
  const files = listed.files.filter((_, i) => keep[i]);
  let labels: Int32Array;
  let classes: string[];
  let trainRows: number | undefined;
  if (where.kind === 'images') {
    const { classes: names, files: all, trainRows: published } = listed as Listed & Extra & { classes: string[] };
    const kept = withoutBad(
      { classes: names, files: all, labels: listed.labels as number[], ...(published !== undefined ? { trainRows: published } : {}) },
      badPaths,
    );
    [labels, classes, trainRows] = [Int32Array.from(kept.labels), kept.classes, kept.trainRows];
  } else {
    const names = (listed.labels as string[]).filter((_, i) => keep[i]);
    classes = dicomClasses(names);
    const index = new Map(classes.map((c, i) => [c, i]));
    labels = Int32Array.from(names, (l) => index.get(l) as number);
  }
  const catalog: ImageCatalog = {
    where,
    what: listed.what,
    labels,
    classes,
    imageShape: listed.shape,
    files: files.map((f) => resolve(f)),
    skipped: bad,
    ...(trainRows !== undefined ? { trainRows } : {}),
    ...(listed.sites ? { sites: listed.sites.filter((_, i) => keep[i]) } : {}),
  };
  catalogs.set(key, catalog);
  return catalog;
}

let decoder: ImageDecoder | undefined;

/**
 * The given rows of a catalog as a streamed data set with flat rows ([h * w * c]): each read decodes its rows' files
 * (PNG/JPEG in a long-lived sharp worker, so decoding overlaps training) into the same floats as imageRows. A file
 * that fails now (changed or removed since it was checked) is refused (`fail`: the error names it) or left out of the
 * batch with one line per batch (`skip`).
 * @example const ds = streamedImageRows(catalog, [0, 1, 2]); const { x } = await ds.read([0, 2]);
 */
export function streamedImageRows(
  catalog: ImageCatalog,
  rows: readonly number[],
  normalize: ImageNormalize = 'none',
  onBadFile: 'skip' | 'fail' = 'fail',
  warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): StreamedDataset {
  const [h, w, c] = catalog.imageShape;
  const width = h * w * c;
  checkNormalize(normalize, c);
  for (const row of rows)
    if (!Number.isInteger(row) || row < 0 || row >= catalog.labels.length)
      throw new RangeError(`row index ${row} out of range [0, ${catalog.labels.length})`);
  const read = async (local: readonly number[]): Promise<{ pixels: Uint8Array | Float32Array; bad: BadFile[] }> => {
    const paths = local.map((r) => catalog.files[rows[r] as number] as string);
    if (catalog.where.kind === 'images') return (decoder ??= createImageDecoder()).decode(paths, h, w, c);
    const pixels = new Float32Array(paths.length * width);
    const bad: BadFile[] = [];
    paths.forEach((p, i) => {
      try {
        pixels.set(decodeOne(p, h, w, c), i * width);
      } catch (cause) {
        bad.push(badDicom(p, cause));
      }
    });
    return { pixels, bad };
  };
  return {
    y: Int32Array.from(rows, (r) => catalog.labels[r] as number),
    n: rows.length,
    inputShape: [width],
    classes: [...catalog.classes],
    held: { now: 0, peak: 0 },
    async read(local) {
      const { pixels, bad } = await read(local);
      if (bad.length > 0) {
        const line = badFilePolicy(`${catalog.what} (while streaming)`, bad, onBadFile);
        if (line) warn(line);
      }
      const badPaths = new Set(bad.map((b) => b.path));
      const kept = local.flatMap((r, i) => (badPaths.has(catalog.files[rows[r] as number] as string) ? [] : [i]));
      const x = new Float32Array(kept.length * width);
      kept.forEach((i, k) => imageValues(pixels, i * width, width, c, normalize, x, k * width));
      return { rows: kept.map((i) => local[i] as number), x };
    },
  };
}
