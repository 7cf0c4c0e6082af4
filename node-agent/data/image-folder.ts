/** Image folders in torchvision's ImageFolder layout (one folder per class; `train/` and `val/` when the split is published), decoded with sharp. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { decodeImages, probeImages, type BadFile } from './image-decode.js';
import { checkImageMemory, imageSizeFor, type ImageOptions } from './image-options.js';
import { badFilePolicy, type ImageSet } from './image-set.js';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** The files of an image folder and their class indices, training files first. */
export interface ImageFolderLayout {
  classes: string[];
  files: string[];
  labels: number[];
  /** Set when `DIR/train` and `DIR/val` exist: the number of training files (the rest are `val`). */
  trainRows?: number;
}

const isDir = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();
const sorted = (names: string[]): string[] => names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Every PNG/JPEG under `dir`, at any depth, in sorted order (other files are ignored). */
function imagesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of sorted(readdirSync(dir))) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (isDir(path)) out.push(...imagesUnder(path));
    else if (EXTENSIONS.has(extname(name).toLowerCase())) out.push(path);
  }
  return out;
}

/** The class folders of one split folder (its subfolders, sorted, as torchvision names classes). */
const classFolders = (dir: string): string[] => sorted(readdirSync(dir).filter((name) => !name.startsWith('.') && isDir(join(dir, name))));

/**
 * Lists an image folder: `DIR/<class>/...` or, when `DIR/train` exists, `DIR/train/<class>/...` then
 * `DIR/val/<class>/...` (classes: every class folder of either, sorted). Errors name the folder.
 * @example listImageFolder('scans').classes // ['benign', 'malignant']
 */
export function listImageFolder(dir: string): ImageFolderLayout {
  if (!isDir(dir)) throw new Error(`images:${dir}: no such folder`);
  const train = join(dir, 'train');
  const val = join(dir, 'val');
  const splits = isDir(train) ? [train, ...(isDir(val) ? [val] : [])] : [dir];
  const classes = sorted([...new Set(splits.flatMap(classFolders))]);
  if (classes.length < 2)
    throw new Error(
      `images:${dir}: found ${classes.length} class folder(s) in ${splits.join(' and ')}; the layout is DIR/<class>/<image> (or DIR/train/<class>/... and DIR/val/<class>/...) with at least two classes`,
    );
  const files: string[] = [];
  const labels: number[] = [];
  const counts: number[] = [];
  for (const split of splits) {
    for (const [label, name] of classes.entries()) {
      const folder = join(split, name);
      const found = isDir(folder) ? imagesUnder(folder) : [];
      files.push(...found);
      labels.push(...found.map(() => label));
    }
    counts.push(files.length);
  }
  if (files.length === 0) throw new Error(`images:${dir}: no .png, .jpg or .jpeg files in the class folders`);
  return { classes, files, labels, ...(splits.length === 2 ? { trainRows: counts[0] as number } : {}) };
}

/** Keeps the rows whose file is not bad, adjusting the published split's training count. */
export function withoutBad(layout: ImageFolderLayout, badPaths: Set<string>): ImageFolderLayout {
  if (badPaths.size === 0) return layout;
  const keep = layout.files.map((f) => !badPaths.has(f));
  const trainRows = layout.trainRows === undefined ? undefined : keep.slice(0, layout.trainRows).filter(Boolean).length;
  return {
    classes: layout.classes,
    files: layout.files.filter((_, i) => keep[i]),
    labels: layout.labels.filter((_, i) => keep[i]),
    ...(trainRows !== undefined ? { trainRows } : {}),
  };
}

/**
 * Lists an image folder and reads every file's header (not its pixels): the files that read (a bad header is refused
 * or left out per `onBadFile`), the shape they decode to (channels: 3 when any has colour, unless given) and the bad files.
 * @example probeImageFolder('scans', {}).shape // [64, 64, 3]
 */
export function probeImageFolder(
  dir: string,
  opts: ImageOptions,
): { layout: ImageFolderLayout; shape: [number, number, 1 | 3]; bad: BadFile[] } {
  const layout = listImageFolder(dir);
  const probe = probeImages(layout.files);
  badFilePolicy(`images:${dir}`, probe.bad, opts.onBadFile);
  const channels = opts.channels ?? (probe.channels.some((c) => c === 3) ? 3 : 1);
  const [h, w] = imageSizeFor(opts, channels);
  return { layout: withoutBad(layout, new Set(probe.bad.map((b) => b.path))), shape: [h, w, channels], bad: probe.bad };
}

/**
 * Decodes an image folder (see listImageFolder) into memory at one size and channel count (defaults: 3 channels when
 * any image has colour, else 1; 28x28 greyscale, 64x64 RGB). Bad files are refused or skipped per `onBadFile`; a
 * set larger than `maxMemoryMb` as float32 is refused before decoding. `warn` gets the skip summary.
 * @example loadImageFolder('scans', { size: [64, 64] }).imageShape // [64, 64, 3]
 */
export function loadImageFolder(
  dir: string,
  opts: ImageOptions = {},
  warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): ImageSet {
  const what = `images:${dir}`;
  const { layout, shape, bad: probed } = probeImageFolder(dir, opts);
  const [h, w, channels] = shape;
  checkImageMemory(what, layout.files.length, shape, opts.maxMemoryMb);
  const decoded = decodeImages(layout.files, h, w, channels);
  const bad = [...probed, ...decoded.bad];
  const line = badFilePolicy(what, bad, opts.onBadFile);
  if (line) warn(line);
  const size = h * w * channels;
  const keep = layout.files.map((f) => !decoded.bad.some((b) => b.path === f));
  const kept = withoutBad(layout, new Set(decoded.bad.map((b) => b.path)));
  const pixels = decoded.bad.length === 0 ? decoded.pixels : new Uint8Array(kept.files.length * size);
  if (pixels !== decoded.pixels) {
    let at = 0;
    keep.forEach((k, i) => k && pixels.set(decoded.pixels.subarray(i * size, (i + 1) * size), size * at++));
  }
  return {
    pixels,
    labels: Int32Array.from(kept.labels),
    classes: kept.classes,
    imageShape: [h, w, channels],
    files: kept.files.map((f) => resolve(f)),
    skipped: bad,
    ...(kept.trainRows !== undefined ? { trainRows: kept.trainRows } : {}),
  };
}
