import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../crypto/identity.js';
import { readIdentityFile, writeIdentityFile } from '../../crypto/key-file.js';
import { tempDir } from './helpers.js';

const posix = process.platform !== 'win32';
const { dir, cleanup } = tempDir();
afterAll(() => cleanup());

describe('private key file modes', () => {
  it.runIf(posix)('are created 0600, also when the process umask is 0', () => {
    const previous = process.umask(0);
    try {
      writeIdentityFile(join(dir, 'umask0.key.json'), generateIdentity('umask0'));
    } finally {
      process.umask(previous);
    }
    expect(statSync(join(dir, 'umask0.key.json')).mode & 0o777).toBe(0o600);
  });

  it.runIf(posix)('are refused for every one of the 512 modes with a group or other bit, and read for the owner-only ones', () => {
    const path = join(dir, 'modes.key.json');
    const me = generateIdentity('modes');
    writeIdentityFile(path, me);
    const refused: number[] = [];
    const read: number[] = [];
    for (let mode = 0; mode < 0o1000; mode++) {
      chmodSync(path, mode | 0o400); // the owner must still be able to read it to test the check
      try {
        expect(readIdentityFile(path)).toEqual(me);
        read.push(mode | 0o400);
      } catch (err) {
        expect((err as Error).message).toContain(`has mode 0${((mode | 0o400) & 0o777).toString(8)}`);
        refused.push(mode | 0o400);
      }
    }
    chmodSync(path, 0o600);

    expect(refused.every((m) => (m & 0o077) !== 0)).toBe(true);
    expect(read.every((m) => (m & 0o077) === 0)).toBe(true);
    expect(new Set(read.map((m) => m & 0o777))).toEqual(new Set([0o400, 0o500, 0o600, 0o700]));
    expect(refused).toHaveLength(512 - 8);
  });
});
