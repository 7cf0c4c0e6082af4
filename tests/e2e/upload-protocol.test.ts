/** Protocol 2's uploads against the real coordinator: version 1 refused by name both ways, chunks taken in order only. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { describe, expect } from 'vitest';
import { PROTOCOL_VERSION, splitIntoChunks, uploadTail } from '../../protocol/index.js';
import { generateIdentity, publicIdentityOf } from '../../crypto/index.js';
import { mnistSpec } from '../../node-agent/data/index.js';
import { createAgent } from '../../node-agent/index.js';
import { mnistSource } from '../../node-agent/index.js';
import { e2e, quiet, type Cohort, type Federation } from './helpers.js';
import { connectRefusal, joinAs, rawConnect, sealUpdate, until, type AckResult } from './raw-client.js';
import { greetAgent } from './hostile-coordinator.js';

const oneRound = { rounds: 1, minParticipants: 1, joinGraceMs: 10_000, train: { localEpochs: 1, batchSize: 50, learningRate: 0.1 } };

/** The code and message of a refused acknowledgement (fails the test on an accepted one). */
function refusal(ack: AckResult): { code: string; message: string } {
  if (ack.ok) throw new Error(`expected a refusal, got ${JSON.stringify(ack)}`);
  return ack.error;
}

describe('protocol version 2', () => {
  e2e('is 2, and the coordinator refuses an agent speaking version 1 at connect, naming both versions', async ({ cohort }) => {
    const fed = await cohort.federation(1, oneRound);

    const v1 = cohort.track(rawConnect({ url: fed.coordinator.url, federation: 'e2e', institution: 'site-1', protocolVersion: 1 }));
    const refused = await connectRefusal(v1);

    expect(PROTOCOL_VERSION).toBe(2);
    expect(refused.data).toEqual({
      code: 'PROTOCOL_MISMATCH',
      message: 'protocol version 1 is not supported: this coordinator speaks version 2; upgrade the agent',
    });
  });

  e2e('an agent refuses a coordinator speaking version 1, naming both versions, and exits', async ({ cohort }) => {
    const coordinator = generateIdentity('coordinator');
    const http = createServer();
    const io = new Server(http);
    io.on('connection', (socket) =>
      greetAgent(socket, {
        presentKey: coordinator.signPublicKey,
        proofKey: coordinator,
        spec: mnistSpec('logreg'),
        study: () => undefined,
        protocolVersion: 1,
      }),
    );
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cohort.defer(() => new Promise<void>((resolve) => io.close(() => resolve())));
    const agent = createAgent({
      coordinatorUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      federation: 'e2e',
      identity: generateIdentity('site-1'),
      coordinator: publicIdentityOf(coordinator),
      data: mnistSource([0, 1, 2, 3]),
      log: quiet,
    });
    cohort.agents.push(agent);

    const error = await agent.ready.then(
      () => undefined,
      (err: unknown) => err as { code?: string; message?: string },
    );

    expect(error).toMatchObject({ code: 'PROTOCOL_MISMATCH', message: 'coordinator speaks protocol 1, this agent 2' });
  });
});

describe('an upload in protocol 2', () => {
  /**
   * A raw site of `fed` with its first task and an honest sealed update, cut into 4 KiB chunks, and `other`: a second
   * honest update for the same task, sealed apart (other bytes).
   */
  async function site(cohort: Cohort, fed: Federation) {
    const client = cohort.track(await joinAs(fed.coordinator.url, 'e2e', fed.institutions[0]!));
    const task = await client.nextTask();
    const seal = () => sealUpdate({ identity: fed.institutions[0]!, coordinatorBoxPublicKey: fed.coordinatorIdentity.boxPublicKey, task });
    const [envelope, other] = [seal(), seal()];
    const chunkBytes = 4096;
    const chunks = splitIntoChunks(envelope, chunkBytes);
    const begin = (uploadId: string, tail = uploadTail(envelope)) =>
      client.call('update:begin', { round: 1, uploadId, totalBytes: envelope.length, chunkBytes, tail });
    const chunk = (uploadId: string, index: number, data = chunks[index]!) => client.call('update:chunk', { uploadId, index, data });
    return { client, envelope, other, chunks, begin, chunk };
  }

  e2e(
    'refuses a chunk beyond a gap, a duplicate, an oversized chunk and a resume with other bytes by name, then completes',
    async ({ cohort }) => {
      const fed = await cohort.federation(1, oneRound);
      const s = await site(cohort, fed);

      expect(await s.begin('upload-0001')).toEqual({ ok: true, next: 0 });
      const ahead = refusal(await s.chunk('upload-0001', 1));
      expect(await s.chunk('upload-0001', 0)).toEqual({ ok: true, received: 1 });
      const duplicate = refusal(await s.chunk('upload-0001', 0));
      const oversized = refusal(await s.chunk('upload-0001', 1, new Uint8Array(4096 + 1)));
      const otherBytes = refusal(await s.begin('upload-0001', uploadTail(s.other)));
      const resumed = await s.begin('upload-0001');
      for (let i = 1; i < s.chunks.length; i++) expect((await s.chunk('upload-0001', i)).ok).toBe(true);
      const commit = await s.client.call('update:commit', { uploadId: 'upload-0001' });
      await until(() => fed.coordinator.store.getRound('e2e', 1)?.state === 'published', 10_000, 'round 1 published');

      expect(ahead).toEqual({ code: 'UPLOAD_OUT_OF_ORDER', message: 'chunk 1 out of order: chunk 0 is next (chunks are sent in order)' });
      expect(duplicate).toEqual({ code: 'UPLOAD_OUT_OF_ORDER', message: 'chunk 0 is a duplicate: chunks 0..0 are held, next is 1' });
      expect(oversized).toEqual({ code: 'BAD_REQUEST', message: 'chunk 1 has 4097 bytes, expected 4096' });
      expect(otherBytes).toEqual({
        code: 'BAD_REQUEST',
        message: 'upload upload-0001 resumed with a different tail: start a new upload id',
      });
      expect(resumed).toEqual({ ok: true, next: 1 });
      expect(commit).toMatchObject({ ok: true });
      expect(fed.coordinator.store.getParticipation('e2e', 1, 'site-1')).toMatchObject({ status: 'accepted' });
      const refused = fed.coordinator.store.listAudit({ federationId: 'e2e' }).filter((e) => e.kind === 'message.refused');
      expect(refused.map((e) => e.data.code)).toEqual(['UPLOAD_OUT_OF_ORDER', 'UPLOAD_OUT_OF_ORDER', 'BAD_REQUEST', 'BAD_REQUEST']);
    },
  );

  e2e(
    "whose first chunk comes from another envelope under this one's tail is refused at commit by the envelope's signature",
    async ({ cohort }) => {
      const fed = await cohort.federation(1, oneRound);
      const s = await site(cohort, fed);
      const otherChunks = splitIntoChunks(s.other, 4096);

      // Chunk 0 of another envelope under this one's tail: the assembler cannot tell, the envelope's signature does.
      await s.begin('upload-0002');
      const sent = [await s.chunk('upload-0002', 0, otherChunks[0]!)];
      for (let i = 1; i < s.chunks.length; i++) sent.push(await s.chunk('upload-0002', i));
      const swapped = refusal(await s.client.call('update:commit', { uploadId: 'upload-0002' }));

      expect(sent.every((a) => a.ok)).toBe(true);
      expect(swapped.code).toBe('BAD_SIGNATURE');
      expect(fed.coordinator.store.getParticipation('e2e', 1, 'site-1')).toMatchObject({ status: 'refused', code: 'BAD_SIGNATURE' });
    },
  );
});
