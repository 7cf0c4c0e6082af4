/** PNG and JPEG decoding with `sharp`, made synchronous (data loaders are) by running sharp in a worker thread and waiting on it. */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

/** A file that could not be read or decoded, and why (sharp's message). */
export interface BadFile {
  path: string;
  reason: string;
}

/** What the probe learns of each file: its channels without alpha (1 grey, 3 colour), or why it is unreadable. */
export interface ProbeResult {
  channels: (1 | 3 | null)[];
  bad: BadFile[];
}

/** Decoded pixels, `paths.length * height * width * channels` bytes row-major (h, w, c); a bad file's rows stay zero. */
export interface DecodeResult {
  pixels: Uint8Array;
  bad: BadFile[];
}

type Job = { op: 'probe'; paths: string[] } | { op: 'decode'; paths: string[]; height: number; width: number; channels: 1 | 3 };

// One job (probe or decode) in plain JavaScript, shared by the one-shot and the persistent worker. Files are handled
// 16 at a time.
const RUN_JOB = `
const runJob = async (sharp, job) => {
  const bad = [];
  const fail = (path, e) => bad.push({ path, reason: String((e && e.message) || e).split('\\n')[0] });
  const order = new Map(job.paths.map((p, i) => [p, i]));
  const sorted = () => bad.sort((a, b) => order.get(a.path) - order.get(b.path));
  const each = async (fn) => {
    for (let i = 0; i < job.paths.length; i += 16) await Promise.all(job.paths.slice(i, i + 16).map((p, k) => fn(p, i + k).catch((e) => fail(p, e))));
  };
  if (job.op === 'probe') {
    const channels = job.paths.map(() => null);
    await each(async (p, i) => {
      const m = await sharp(p).metadata();
      const colour = (m.channels ?? 0) - (m.hasAlpha ? 1 : 0);
      channels[i] = colour >= 3 && m.space !== 'b-w' ? 3 : 1;
    });
    return { ok: true, channels, bad: sorted() };
  }
  const size = job.height * job.width * job.channels;
  const pixels = new Uint8Array(job.paths.length * size);
  await each(async (p, i) => {
    let img = sharp(p).autoOrient().resize(job.width, job.height, { fit: 'cover' }).flatten();
    img = job.channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (data.length !== size) throw new Error('decoded to ' + info.width + 'x' + info.height + 'x' + info.channels + ', expected ' + job.height + 'x' + job.width + 'x' + job.channels);
    pixels.set(data, i * size);
  });
  return { ok: true, pixels, bad: sorted() };
};
`;

// The one-shot worker: runs the job in its workerData, answers on its port and wakes the waiting thread.
const WORKER = `${RUN_JOB}
(async () => {
  const { workerData: d } = await import('node:worker_threads');
  let out;
  try {
    out = await runJob((await import(d.sharpUrl)).default, d.job);
  } catch (e) {
    out = { ok: false, message: String((e && e.message) || e) };
  }
  d.port.postMessage(out, out.pixels ? [out.pixels.buffer] : []);
  Atomics.store(d.signal, 0, 1);
  Atomics.notify(d.signal, 0);
})();
`;

// The persistent worker: answers each { id, job } message with { id, ...result }, jobs running concurrently.
const SERVER = `${RUN_JOB}
(async () => {
  const { parentPort, workerData: d } = await import('node:worker_threads');
  const sharp = import(d.sharpUrl).then((m) => m.default);
  parentPort.on('message', async ({ id, job }) => {
    let out;
    try {
      out = { id, ...(await runJob(await sharp, job)) };
    } catch (e) {
      out = { id, ok: false, message: String((e && e.message) || e) };
    }
    parentPort.postMessage(out, out.pixels ? [out.pixels.buffer] : []);
  });
})();
`;

const sharpUrl = (): string => pathToFileURL(createRequire(import.meta.url).resolve('sharp')).href;

/** The default wait for a job: a minute plus 20 ms a file (decoding takes about 2 ms a file on one core). */
const budget = (paths: readonly string[]): number => 60_000 + 20 * paths.length;

/** Runs one job in a fresh worker thread and blocks until it answers (or `timeoutMs` passes). */
function runSync<T>(job: Job, timeoutMs: number): T {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, { eval: true, workerData: { sharpUrl: sharpUrl(), job, signal, port: port2 }, transferList: [port2] });
  try {
    const waited = Atomics.wait(signal, 0, 0, timeoutMs);
    const msg = receiveMessageOnPort(port1)?.message as ({ ok: true } & T) | { ok: false; message: string } | undefined;
    if (waited === 'timed-out' || !msg)
      throw new Error(`image decoding did not finish within ${Math.round(timeoutMs / 1000)} s (${job.paths.length} files)`);
    if (!msg.ok) throw new Error(`image decoding failed: ${msg.message}`);
    return msg;
  } finally {
    port1.close();
    void worker.terminate();
  }
}

/**
 * Reads each file's header: its colour channels (alpha not counted), or why it cannot be read.
 * @example probeImages(['a.png', 'b.jpg']).channels // [1, 3]
 */
export function probeImages(paths: string[], timeoutMs = budget(paths)): ProbeResult {
  return runSync<ProbeResult>({ op: 'probe', paths }, timeoutMs);
}

/**
 * Decodes PNG/JPEG files to 8-bit pixels: EXIF orientation applied, scaled to cover `height x width` and centre-cropped,
 * alpha flattened onto black, converted to greyscale (1 channel) or sRGB (3). Files that fail are listed in `bad`.
 * @example decodeImages(['a.png'], 28, 28, 1).pixels.length // 784
 */
export function decodeImages(paths: string[], height: number, width: number, channels: 1 | 3, timeoutMs = budget(paths)): DecodeResult {
  return runSync<DecodeResult>({ op: 'decode', paths, height, width, channels }, timeoutMs);
}

/** Decodes batches of files asynchronously in one long-lived worker thread, so decoding overlaps training. */
export interface ImageDecoder {
  /** As decodeImages, without blocking: the batch's pixels, and the files that failed. */
  decode(paths: string[], height: number, width: number, channels: 1 | 3): Promise<DecodeResult>;
  /** Ends the worker (a later decode starts a new one). */
  close(): Promise<void>;
}

/**
 * A decoder whose worker starts on the first batch and holds the process open only while a batch is pending.
 * @example const d = createImageDecoder(); const { pixels } = await d.decode(['a.png'], 28, 28, 1); await d.close();
 */
export function createImageDecoder(): ImageDecoder {
  let worker: Worker | undefined;
  let next = 0;
  const pending = new Map<number, { resolve: (r: DecodeResult) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  };
  const start = (): Worker => {
    const w = new Worker(SERVER, { eval: true, workerData: { sharpUrl: sharpUrl() } });
    w.on('message', (msg: ({ ok: true } & DecodeResult & { id: number }) | { ok: false; id: number; message: string }) => {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (pending.size === 0) w.unref();
      if (!p) return;
      if (msg.ok) p.resolve({ pixels: msg.pixels, bad: msg.bad });
      else p.reject(new Error(`image decoding failed: ${msg.message}`));
    });
    w.on('error', (err) => failAll(new Error(`image decoding failed: ${err.message}`)));
    w.on('exit', (code) => {
      if (worker === w) failAll(new Error(`the image decoder stopped (exit code ${code})`));
    });
    return w;
  };
  return {
    decode(paths, height, width, channels) {
      worker ??= start();
      worker.ref();
      const id = next++;
      const w = worker;
      return new Promise<DecodeResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, job: { op: 'decode', paths, height, width, channels } });
      });
    },
    async close() {
      const w = worker;
      failAll(new Error('the image decoder was closed'));
      if (w) await w.terminate();
    },
  };
}
