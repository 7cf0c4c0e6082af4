/** Image data sets by reference (`images:DIR`, `dicom:MANIFEST.csv`), decoded once per process and options. */
import { resolve } from 'node:path';
import { loadDicomManifest } from './dicom-manifest.js';
import { loadImageFolder } from './image-folder.js';
import type { ImageOptions } from './image-options.js';
import type { ImageSet } from './image-set.js';

/** Where the images are: an ImageFolder tree or a DICOM manifest. */
export type ImageLocation = { kind: 'images'; dir: string } | { kind: 'dicom'; manifest: string };

const cache = new Map<string, ImageSet>();

/**
 * The decoded image set, read from disk once per process for the same location and decoding options (every agent of
 * a simulation holding a slice asks for it); treat it as read-only.
 * @example loadImageSet({ kind: 'images', dir: 'scans' }, { size: [64, 64] }).labels.length
 */
export function loadImageSet(where: ImageLocation, opts: ImageOptions = {}, warn?: (line: string) => void): ImageSet {
  const path = resolve(where.kind === 'images' ? where.dir : where.manifest);
  const key = JSON.stringify([where.kind, path, opts.size, opts.channels, opts.onBadFile, opts.maxMemoryMb]);
  let set = cache.get(key);
  if (!set) {
    set = where.kind === 'images' ? loadImageFolder(where.dir, opts, warn) : loadDicomManifest(where.manifest, opts, warn);
    cache.set(key, set);
  }
  return set;
}
