import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, readIdentityFile, readPublicIdentityFile } from '../../crypto/index.js';
import { cohortProgram } from '../../simulations/cli/program.js';
import { runCli, startCli, type CliResult } from './cli-helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cohort-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const HELP: Array<[string[], string[]]> = [
  [[], ['keys', 'coordinator', 'agent', 'simulate']],
  [['keys'], ['generate']],
  [
    ['keys', 'generate'],
    ['--id <id>', '--out <dir>', '--force'],
  ],
  [['coordinator'], ['start']],
  [
    ['coordinator', 'start'],
    [
      '--key <file>',
      '--data-dir <dir>',
      '--config <file>',
      '--federation <id>',
      '--model <arch>',
      '--features <names>',
      '--classes <names>',
      '--rounds <r>',
      '--min-participants <n>',
      '--fraction <c>',
      '--local-epochs <e>',
      '--batch-size <b>',
      '--lr <x>',
      '--round-timeout <seconds>',
      '--wait-timeout <seconds>',
      '--seed <s>',
      '--enroll <pubfile>',
      '--host <host>',
      '--port <port>',
      '--log-level <level>',
      '--task <task>',
      '--optimizer <name>',
      '--weight-decay <lambda>',
      '--class-weight <scheme>',
    ],
  ],
  [['agent'], ['start']],
  [
    ['agent', 'start'],
    [
      '--config <file>',
      '--coordinator <url>',
      '--coordinator-key <pubfile>',
      '--federation <id>',
      '--key <file>',
      '--data <source>',
      '--label <column>',
      '--backend <name>',
      '--val-fraction <f>',
      '--log-level <level>',
    ],
  ],
  [
    ['simulate'],
    [
      '--institutions <n>',
      '--rounds <r>',
      '--dataset <name>',
      '--label <column>',
      '--partition <scheme>',
      '--model <arch>',
      '--local-epochs <e>',
      '--batch-size <b>',
      '--lr <x>',
      '--fraction <c>',
      '--min-participants <n>',
      '--round-timeout <seconds>',
      '--seed <s>',
      '--backend <name>',
      '--centralized',
      '--out <dir>',
      '--task <task>',
      '--positive <value>',
      '--threshold <p>',
      '--optimizer <name>',
      '--momentum <m>',
      '--weight-decay <lambda>',
      '--class-weight <scheme>',
    ],
  ],
];

/** `cohort ...path --help`, run once per path and shared by the tests below. */
const helpRuns = new Map<string, Promise<CliResult>>();
const help = (path: string[]): Promise<CliResult> => {
  const key = path.join(' ');
  if (!helpRuns.has(key)) helpRuns.set(key, runCli([...path, '--help']));
  return helpRuns.get(key)!;
};

describe('cohort --help', () => {
  it.concurrent.each(HELP)('cohort %j --help exits 0 and lists its options or subcommands', async (command, expected) => {
    const { code, stdout } = await help(command);

    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: cohort${command.length ? ` ${command.join(' ')}` : ''}`);
    for (const item of [...expected, '-h, --help']) expect(stdout).toContain(item);
  });
});

/** Command names listed under "Commands:" in a help text (without `help`). */
const commandsIn = (help: string): string[] =>
  [...(help.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!).filter((name) => name !== 'help');

describe('cohort --help, for every command the CLI lists', () => {
  // The tree is built in-process (one import, not a process of about 1 s per command); the process of `cohort --help`
  // shows it is the tree the bin runs, and the cases above that --help exits 0 in a real process.
  it('every command and subcommand has a help text with a usage line and its options, and the bin lists the same commands', async () => {
    const program = cohortProgram();
    const top = await help([]);
    const commands = program.commands.map((c) => c.name());
    expect(commandsIn(top.stdout)).toEqual(commands);
    expect(commands).toEqual(expect.arrayContaining(['keys', 'coordinator', 'agent', 'simulate']));

    const nested = program.commands.map((c) => ({ c: c.name(), out: c.helpInformation(), subs: c.commands }));
    for (const { c, out } of nested) expect(out, c).toContain(`Usage: cohort ${c}`);
    const leaves = nested.flatMap(({ c, subs }) => subs.map((sub) => ({ name: `${c} ${sub.name()}`, out: sub.helpInformation() })));
    expect(leaves.length).toBeGreaterThanOrEqual(3);
    for (const { name, out } of leaves) {
      expect(out, name).toContain(`Usage: cohort ${name}`);
      expect(out, name).toMatch(/Options:\n(\s+-.*\n)+/);
    }
  });
});

describe('cohort keys generate', () => {
  it('writes ID.key.json with mode 0600 and ID.pub.json, which read back as the same identity', async () => {
    const out = join(dir, 'keys');

    const { code, stdout } = await runCli(['keys', 'generate', '--id', 'site-a', '--out', out]);

    expect(code).toBe(0);
    const keyFile = join(out, 'site-a.key.json');
    const pubFile = join(out, 'site-a.pub.json');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(pubFile).mode & 0o777).toBe(0o644);
    const identity = readIdentityFile(keyFile);
    const pub = readPublicIdentityFile(pubFile);
    expect(identity.id).toBe('site-a');
    expect(pub.id).toBe('site-a');
    expect(Buffer.from(pub.signPublicKey).equals(Buffer.from(identity.signPublicKey))).toBe(true);
    expect(readFileSync(pubFile, 'utf8')).not.toContain(Buffer.from(identity.signSecretKey).toString('base64'));
    expect(stdout).toContain(keyFile);
    expect(stdout).toContain(`fingerprint: ${fingerprint(identity.signPublicKey)}`);
  });

  it('refuses to overwrite an existing key without --force, and replaces it with --force', async () => {
    const out = join(dir, 'keys-overwrite');
    await runCli(['keys', 'generate', '--id', 'site-b', '--out', out]);
    const keyFile = join(out, 'site-b.key.json');
    const before = readFileSync(keyFile, 'utf8');

    const refused = await runCli(['keys', 'generate', '--id', 'site-b', '--out', out]);
    const afterRefusal = readFileSync(keyFile, 'utf8');
    const forced = await runCli(['keys', 'generate', '--id', 'site-b', '--out', out, '--force']);

    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/already exists; refusing to overwrite/);
    expect(afterRefusal).toBe(before);
    expect(forced.code).toBe(0);
    expect(readFileSync(keyFile, 'utf8')).not.toBe(before);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('refuses an id that is not a safe file name (no path escapes)', async () => {
    const { code, stderr } = await runCli(['keys', 'generate', '--id', '../evil', '--out', join(dir, 'keys-bad')]);

    expect(code).not.toBe(0);
    expect(stderr).toMatch(/id must be .*letters, digits/);
  });
});

describe('cohort with bad flag values', () => {
  const csv = () => {
    const path = join(dir, 'tiny.csv');
    writeFileSync(path, 'a,b,label\n1,2,x\n3,4,y\n');
    return path;
  };
  const CASES: Array<[string, () => string[], RegExp]> = [
    ['--rounds 0', () => ['simulate', '--rounds', '0'], /--rounds.*'0' is invalid.*integer in \[1, 100000\]/],
    ['--institutions abc', () => ['simulate', '--institutions', 'abc'], /--institutions.*'abc' is invalid/],
    ['--lr -1', () => ['simulate', '--lr', '-1'], /--lr.*expected a positive number/],
    ['--fraction 2', () => ['simulate', '--fraction', '2'], /--fraction.*expected a number in \(0, 1\]/],
    [
      '--partition nope',
      () => ['simulate', '--partition', 'nope'],
      /bad partition: expected iid, dirichlet:<alpha>, shards:<count> or quantity:<alpha>, got "nope"/,
    ],
    ['--partition dirichlet:0', () => ['simulate', '--partition', 'dirichlet:0'], /alpha must be a positive number/],
    ['--model rnn', () => ['simulate', '--model', 'rnn'], /--model.*'rnn' is invalid.*logreg, mlp, cnn/],
    ['--backend gpu', () => ['simulate', '--backend', 'gpu'], /--backend.*'gpu' is invalid/],
    [
      '--dataset foo',
      () => ['simulate', '--dataset', 'foo'],
      /unknown dataset "foo": use mnist, mnist-full, idx:.*, csv:PATH.*, images:DIR or dicom:MANIFEST.csv/,
    ],
    ['csv without --label', () => ['simulate', '--dataset', `csv:${csv()}`], /csv:PATH needs --label COLUMN/],
    [
      'csv with --model cnn',
      () => ['simulate', '--dataset', `csv:${csv()}`, '--label', 'label', '--model', 'cnn'],
      /--model cnn needs image data/,
    ],
    [
      '--min-participants above --institutions',
      () => ['simulate', '--institutions', '2', '--min-participants', '3'],
      /--min-participants 3 is more than the 2 institutions/,
    ],
    ['an unknown option', () => ['simulate', '--bogus'], /unknown option '--bogus'/],
    ['coordinator start without --key', () => ['coordinator', 'start'], /required option '--key <file>' not specified/],
    ['coordinator start --port 70000', () => ['coordinator', 'start', '--key', 'k', '--port', '70000'], /--port.*'70000' is invalid/],
    [
      'agent start without settings',
      () => ['agent', 'start', '--coordinator', 'http://127.0.0.1:1'],
      /agent configuration incomplete or invalid: coordinatorKey: .*federation: .*key: .*data: /,
    ],
    [
      'agent start --coordinator not-a-url',
      () => [
        'agent',
        'start',
        '--coordinator',
        'not-a-url',
        '--coordinator-key',
        'c',
        '--federation',
        'f',
        '--key',
        'k',
        '--data',
        'mnist',
      ],
      /coordinator: /,
    ],
  ];

  it.concurrent.each(CASES)('%s exits non-zero with a clear message on stderr and nothing on stdout', async (_name, args, message) => {
    const { code, stdout, stderr } = await runCli(args());

    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
    expect(stdout).toBe('');
  });
});

describe('cohort output into a closed pipe', () => {
  it('finishes the run quietly with exit 0 when the reader goes away (cohort simulate | head -1)', async () => {
    const out = join(dir, 'pipe');
    const run = startCli(['simulate', '--institutions', '2', '--rounds', '1', '--model', 'logreg', '--local-epochs', '1', '--out', out]);
    await run.waitFor(/^Cohort simulation:/);

    run.child.stdout?.destroy();
    const { code, stderr } = await run.exited;

    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).rounds).toHaveLength(1);
  });
});
