/** In-flight chunked uploads, one per institution, kept across reconnects so an agent can resume. */
import { ChunkAssembler, CohortError, type UploadBegin, type UploadChunk } from '../../protocol/index.js';

interface Upload {
  uploadId: string;
  round: number;
  assembler: ChunkAssembler;
}

/** Holds at most one upload per institution: memory is bounded by institutions x maxUploadBytes. */
export class UploadTable {
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly maxBytes: number) {}

  /**
   * Starts an upload, or resumes one with the same id, size, chunk size and tail (returns the first chunk not held).
   * @example uploads.begin('site-a', { round: 1, uploadId, totalBytes, chunkBytes, tail: uploadTail(envelope) }) // { next: 0 }
   */
  begin(institution: string, msg: UploadBegin): { next: number } {
    const existing = this.uploads.get(institution);
    if (existing && existing.uploadId === msg.uploadId) {
      const { assembler } = existing;
      // The tail is the envelope's signature: another envelope under the same id cannot continue the bytes held.
      const held = { round: existing.round, totalBytes: assembler.totalBytes, chunkBytes: assembler.chunkBytes, tail: assembler.tail };
      const differs = (Object.keys(held) as (keyof typeof held)[]).filter((k) => held[k] !== msg[k]);
      if (differs.length > 0) {
        throw new CohortError(
          'BAD_REQUEST',
          `upload ${msg.uploadId} resumed with a different ${differs.join(', ')}: start a new upload id`,
        );
      }
      return { next: assembler.next };
    }
    const assembler = new ChunkAssembler({ ...msg, maxBytes: this.maxBytes });
    this.uploads.set(institution, { uploadId: msg.uploadId, round: msg.round, assembler });
    return { next: 0 };
  }

  chunk(institution: string, msg: UploadChunk): { received: number } {
    return { received: this.get(institution, msg.uploadId).assembler.accept(msg.index, msg.data).received };
  }

  /** Completes an upload: the whole envelope once complete and ending with its announced tail. The upload is forgotten either way. */
  finish(institution: string, uploadId: string): { round: number; bytes: Uint8Array } {
    const upload = this.get(institution, uploadId);
    this.uploads.delete(institution);
    return { round: upload.round, bytes: upload.assembler.finish() };
  }

  /** Drops uploads for rounds other than `round` (called when a round closes). */
  pruneExcept(round: number | undefined): void {
    for (const [institution, upload] of this.uploads) if (upload.round !== round) this.uploads.delete(institution);
  }

  private get(institution: string, uploadId: string): Upload {
    const upload = this.uploads.get(institution);
    if (!upload || upload.uploadId !== uploadId) {
      throw new CohortError('UPLOAD_UNKNOWN', `no upload ${uploadId} in progress for ${institution}: send update:begin first`);
    }
    return upload;
  }
}
