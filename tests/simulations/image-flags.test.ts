/** The image flags of `simulate` and `agent`: parsed into ImageOptions, bad values refused naming the flag. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { imageOptionsFrom, withImageFlags } from '../../node-agent/cli/image-flags.js';

const parse = (args: string[]): Record<string, unknown> => withImageFlags(new Command('x')).parse(args, { from: 'user' }).opts();

describe('image flags', () => {
  it('give no options when none is set, and every option when all are', () => {
    expect(imageOptionsFrom(parse([]))).toBeUndefined();
    const all = parse([
      '--image-size',
      '32x48',
      '--channels',
      '3',
      '--on-bad-file',
      'skip',
      '--max-memory-mb',
      '512',
      '--no-augment',
      '--normalize',
      'imagenet',
    ]);
    expect(imageOptionsFrom(all)).toEqual({
      size: [32, 48],
      channels: 3,
      onBadFile: 'skip',
      maxMemoryMb: 512,
      augment: false,
      normalize: 'imagenet',
    });
    expect(imageOptionsFrom(parse(['--image-size', '20', '--augment']))).toEqual({ size: [20, 20], augment: true });
    expect(imageOptionsFrom(parse(['--stream-images', '--normalize', 'pooled']))).toEqual({ stream: true, normalize: 'pooled' });
  });

  it("take an agent file's numbers as well as strings", () => {
    expect(imageOptionsFrom({ channels: 1, maxMemoryMb: 64 })).toEqual({ channels: 1, maxMemoryMb: 64 });
  });

  it('refuse bad values naming the flag and what it takes', () => {
    expect(() => imageOptionsFrom({ imageSize: '28by28' })).toThrow('--image-size 28by28: use HxW');
    expect(() => imageOptionsFrom({ imageSize: '0x28' })).toThrow(/--image-size 0x28/);
    expect(() => imageOptionsFrom({ channels: '2' })).toThrow('--channels 2: use 1 (greyscale) or 3 (RGB)');
    expect(() => imageOptionsFrom({ onBadFile: 'ignore' })).toThrow('--on-bad-file ignore: use skip or fail');
    expect(() => imageOptionsFrom({ maxMemoryMb: '-1' })).toThrow(/--max-memory-mb -1/);
    expect(() => imageOptionsFrom({ normalize: 'zscore' })).toThrow('--normalize zscore: use imagenet, pooled or none');
  });
});
