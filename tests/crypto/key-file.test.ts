import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, publicIdentityOf } from '../../crypto/identity.js';
import { readIdentityFile, readPublicIdentityFile, writeIdentityFile, writePublicIdentityFile } from '../../crypto/key-file.js';
import { tempDir } from './helpers.js';

const posix = process.platform !== 'win32';

describe('key files', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it.runIf(posix)('writes a private identity with mode 0600 in a 0700 folder and reads it back', () => {
    const me = generateIdentity('st-marys');
    const path = join(dir, 'keys', 'st-marys.json');

    writeIdentityFile(path, me);

    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    expect(readIdentityFile(path)).toEqual(me);
  });

  it('refuses to overwrite an identity file unless forced', () => {
    const path = join(dir, 'id.json');
    const first = generateIdentity('first');
    const second = generateIdentity('second');
    writeIdentityFile(path, first);

    expect(() => writeIdentityFile(path, second)).toThrow(/already exists; refusing to overwrite/);
    expect(readIdentityFile(path)).toEqual(first);
    writeIdentityFile(path, second, { force: true });
    expect(readIdentityFile(path)).toEqual(second);
    if (posix) expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it.runIf(posix)('refuses a private key file readable by others, naming the path, the mode and the chmod fix', () => {
    const path = join(dir, 'loose.json');
    writeIdentityFile(path, generateIdentity('loose'));
    chmodSync(path, 0o644);

    expect(() => readIdentityFile(path)).toThrow(`${path} has mode 0644`);
    expect(() => readIdentityFile(path)).toThrow(`chmod 600 ${path}`);
    chmodSync(path, 0o640);
    expect(() => readIdentityFile(path)).toThrow(/mode 0640/);
  });

  it('writes a public identity 0644 and reads it back', () => {
    const pub = publicIdentityOf(generateIdentity('coordinator'));
    const path = join(dir, 'coordinator.pub.json');

    writePublicIdentityFile(path, pub);

    if (posix) expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readPublicIdentityFile(path)).toEqual(pub);
  });

  it('says clearly when a public file is passed as private and vice versa', () => {
    const me = generateIdentity('st-marys');
    const privatePath = join(dir, 'me.json');
    const publicPath = join(dir, 'me.pub.json');
    writeIdentityFile(privatePath, me);
    writePublicIdentityFile(publicPath, publicIdentityOf(me));

    expect(() => readIdentityFile(publicPath)).toThrow(`${publicPath} is a public identity file`);
    expect(() => readPublicIdentityFile(privatePath)).toThrow(`${privatePath} is a private identity file`);
  });

  it('names the file when its content is broken', () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{"format":"cohort-identity/v1"', { mode: 0o600 });

    expect(() => readIdentityFile(path)).toThrow(`${path}: not an identity file: invalid JSON`);
    expect(readFileSync(path, 'utf8')).toContain('cohort-identity/v1');
  });
});
