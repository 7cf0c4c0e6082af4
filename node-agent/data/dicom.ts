/** One greyscale DICOM image read with `dicom-parser`: modality rescale, VOI window (or min-max), MONOCHROME1 inverted, to [0, 1]. */
import dicomParser, { type DataSet } from 'dicom-parser';

/** Transfer syntaxes whose pixel data is stored natively (deflate is undone by dicom-parser through node's zlib). */
const NATIVE: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
};

/** Compressed transfer syntaxes, named in the error (dicom-parser does not decode compressed pixel data). */
const COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless, Non-Hierarchical (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless, First-Order Prediction (Process 14, SV1)',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile / Main Level',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264 High Profile',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

/** A decoded greyscale image: `height x width` values in [0, 1], row-major. */
export interface DicomImage {
  height: number;
  width: number;
  values: Float32Array;
}

/** The first value of a multi-valued decimal string, or undefined. */
const decimal = (ds: DataSet, tag: string): number | undefined => {
  const v = ds.floatString(tag, 0);
  return v !== undefined && Number.isFinite(v) ? v : undefined;
};

/** Stored pixel values (masked to Bits Stored, sign-extended when Pixel Representation is 1) of the first frame. */
function storedValues(ds: DataSet, path: string, count: number, bigEndian: boolean): Float64Array {
  const bits = ds.uint16('x00280100') ?? 0;
  if (bits !== 8 && bits !== 16) throw new Error(`${path}: Bits Allocated ${bits} is not supported (8 or 16)`);
  const stored = Math.min(ds.uint16('x00280101') ?? bits, bits);
  const signed = ds.uint16('x00280103') === 1;
  const el = ds.elements.x7fe00010;
  if (!el) throw new Error(`${path}: no Pixel Data (7FE0,0010)`);
  const need = count * (bits / 8);
  const have = Math.min(el.length, ds.byteArray.length - el.dataOffset);
  if (have < need)
    throw new Error(
      `${path}: Pixel Data has ${have} bytes, Rows x Columns x Bits Allocated / 8 needs ${need} (truncated or wrongly sized)`,
    );
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, need);
  const out = new Float64Array(count);
  const mask = 2 ** stored - 1;
  for (let i = 0; i < count; i++) {
    const raw = (bits === 8 ? view.getUint8(i) : view.getUint16(2 * i, !bigEndian)) & mask;
    out[i] = signed && raw >= 2 ** (stored - 1) ? raw - 2 ** stored : raw;
  }
  return out;
}

/** DICOM's linear VOI LUT (PS3.3 C.11.2.1.2) onto [0, 1], or min-max scaling when there is no usable window. */
function toUnit(values: Float64Array, centre: number | undefined, width: number | undefined): Float32Array {
  const out = new Float32Array(values.length);
  if (centre !== undefined && width !== undefined && width >= 1) {
    const c = centre - 0.5;
    const w = width - 1;
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      out[i] = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
    }
    return out;
  }
  let [min, max] = [Infinity, -Infinity];
  for (const v of values) [min, max] = [Math.min(min, v), Math.max(max, v)];
  for (let i = 0; i < values.length; i++) out[i] = max > min ? ((values[i] as number) - min) / (max - min) : 0;
  return out;
}

/** Parses the bytes, turning dicom-parser's thrown strings into errors that name the file. */
function parse(bytes: Uint8Array, path: string): DataSet {
  try {
    // A Buffer: dicom-parser's deflate path (node's zlib) copies with Buffer#copy.
    return dicomParser.parseDicom(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (cause) {
    const msg =
      cause instanceof Error
        ? cause.message
        : typeof cause === 'string'
          ? cause
          : ((cause as { exception?: string })?.exception ?? String(cause));
    throw new Error(`${path}: not a readable DICOM Part 10 file (${msg})`, { cause });
  }
}

/**
 * Decodes a greyscale (MONOCHROME1/2) DICOM file of 8 or 16 bits, signed or unsigned, uncompressed (the first frame
 * of a multi-frame file): modality value = stored x Rescale Slope + Rescale Intercept, then the first Window
 * Center/Width (or the image's min-max), then MONOCHROME1 inverted so that higher is brighter. A compressed
 * transfer syntax is refused naming its UID and name.
 * @example decodeDicom(readFileSync('chest.dcm'), 'chest.dcm').values // Float32Array in [0, 1]
 */
export function decodeDicom(bytes: Uint8Array, path: string): DicomImage {
  const ds = parse(bytes, path);
  const syntax = ds.string('x00020010')?.replace(/\0/g, '').trim() ?? '1.2.840.10008.1.2';
  if (!NATIVE[syntax] || ds.elements.x7fe00010?.encapsulatedPixelData) {
    const name = COMPRESSED[syntax] ?? NATIVE[syntax] ?? 'an unknown transfer syntax';
    throw new Error(
      `${path}: transfer syntax ${syntax} (${name}) stores compressed pixel data, which dicom-parser cannot decode; convert the file to Explicit VR Little Endian (e.g. gdcmconv --raw or dcmdjpeg)`,
    );
  }
  const photometric = ds.string('x00280004')?.trim() ?? '';
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') {
    throw new Error(`${path}: Photometric Interpretation "${photometric}" is not supported (greyscale MONOCHROME1 or MONOCHROME2 only)`);
  }
  const samples = ds.uint16('x00280002') ?? 1;
  if (samples !== 1) throw new Error(`${path}: Samples per Pixel ${samples} is not supported (1)`);
  const height = ds.uint16('x00280010') ?? 0;
  const width = ds.uint16('x00280011') ?? 0;
  if (height < 1 || width < 1) throw new Error(`${path}: Rows ${height} x Columns ${width} is not an image`);
  const stored = storedValues(ds, path, height * width, syntax === '1.2.840.10008.1.2.2');
  const slope = decimal(ds, 'x00281053') ?? 1;
  const intercept = decimal(ds, 'x00281052') ?? 0;
  const modality = stored.map((v) => v * slope + intercept);
  const values = toUnit(modality, decimal(ds, 'x00281050'), decimal(ds, 'x00281051'));
  if (photometric === 'MONOCHROME1') for (let i = 0; i < values.length; i++) values[i] = 1 - (values[i] as number);
  return { height, width, values };
}
