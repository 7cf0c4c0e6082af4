/** Tests of simulation reports: classification report, rounds CSV, SVG plot, terminal progress. */
import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  classificationReport,
  createRoundProgress,
  formatReport,
  plotRoundsSvg,
  roundsToCsv,
  type RoundRow,
} from '../../simulations/report/index.js';

// cat: 4 true, dog: 2 true, bird: 2 true and never predicted.
const CLASSES = ['cat', 'dog', 'bird'];
const Y_TRUE = [0, 0, 0, 0, 1, 1, 2, 2];
const Y_PRED = [0, 0, 0, 1, 1, 0, 0, 1];

function fakeRounds(n: number): RoundRow[] {
  return Array.from({ length: n }, (_, i) => ({
    round: i + 1,
    participants: 5,
    loss: 2.2 * Math.exp(-0.35 * i) + 0.08,
    accuracy: 0.97 - 0.6 * Math.exp(-0.45 * i),
    durationMs: 900 + 50 * i,
  }));
}

function collect(stream: PassThrough): () => string {
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return () => chunks.join('');
}

describe('classificationReport', () => {
  it('scores each class, accuracy and both averages as scikit-learn does (zero_division = 0)', () => {
    // prepare: counts by hand. cat predicted at 0,1,2,5,6 (tp 3, fp 2, fn 1);
    // dog predicted at 3,4,7 (tp 1, fp 2, fn 1); bird never predicted (tp 0, fp 0, fn 2).
    const cat = { precision: 3 / 5, recall: 3 / 4, f1: (2 * 3) / (2 * 3 + 2 + 1), support: 4 };
    const dog = { precision: 1 / 3, recall: 1 / 2, f1: (2 * 1) / (2 * 1 + 2 + 1), support: 2 };
    const bird = { precision: 0, recall: 0, f1: 0, support: 2 };
    const macro = {
      precision: (cat.precision + dog.precision + bird.precision) / 3,
      recall: (cat.recall + dog.recall + bird.recall) / 3,
      f1: (cat.f1 + dog.f1 + bird.f1) / 3,
      support: 8,
    };
    const weighted = {
      precision: (4 * cat.precision + 2 * dog.precision + 2 * bird.precision) / 8,
      recall: (4 * cat.recall + 2 * dog.recall + 2 * bird.recall) / 8,
      f1: (4 * cat.f1 + 2 * dog.f1 + 2 * bird.f1) / 8,
      support: 8,
    };

    // execute
    const report = classificationReport(Y_TRUE, Y_PRED, CLASSES);

    // assert
    for (const [name, expected] of Object.entries({ cat, dog, bird })) {
      const got = report.classes[name]!;
      expect(got.precision, `${name} precision`).toBeCloseTo(expected.precision, 12);
      expect(got.recall, `${name} recall`).toBeCloseTo(expected.recall, 12);
      expect(got.f1, `${name} f1`).toBeCloseTo(expected.f1, 12);
      expect(got.support, `${name} support`).toBe(expected.support);
    }
    expect(Object.keys(report.classes)).toEqual(CLASSES);
    expect(report.accuracy).toBe(4 / 8);
    for (const key of ['precision', 'recall', 'f1'] as const) {
      expect(report.macroAvg[key], `macro ${key}`).toBeCloseTo(macro[key], 12);
      expect(report.weightedAvg[key], `weighted ${key}`).toBeCloseTo(weighted[key], 12);
    }
    expect(report.macroAvg.support).toBe(8);
    expect(report.weightedAvg.support).toBe(8);
    expect(report.confusion).toEqual([
      [3, 1, 0],
      [1, 1, 0],
      [1, 1, 0],
    ]);
  });

  it('counts a listed class with no samples as zeros in the macro average but not in the weighted one', () => {
    // prepare: 'c' is neither in yTrue nor in yPred; 'a' and 'b' are predicted perfectly
    const yTrue = [0, 1, 1];

    // execute
    const report = classificationReport(yTrue, yTrue, ['a', 'b', 'c']);

    // assert
    expect(report.classes.c).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(report.accuracy).toBe(1);
    expect(report.macroAvg).toEqual({ precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, support: 3 });
    expect(report.weightedAvg).toEqual({ precision: 1, recall: 1, f1: 1, support: 3 });
  });

  it('accepts typed arrays as labels', () => {
    const report = classificationReport(Int32Array.from(Y_TRUE), Float32Array.from(Y_PRED), CLASSES);

    expect(report.accuracy).toBe(0.5);
    expect(report.classes.cat!.support).toBe(4);
  });

  it('rejects mismatched lengths and labels outside the classes', () => {
    expect(() => classificationReport([0, 1], [0], CLASSES)).toThrow(/2 labels.*1/);
    expect(() => classificationReport([0, 3], [0, 1], CLASSES)).toThrow(/yTrue\[1\] = 3/);
    expect(() => classificationReport([0, 1], [0, 0.5], CLASSES)).toThrow(/yPred\[1\] = 0.5/);
  });
});

describe('formatReport', () => {
  it('lays out a header, every class row, a blank line and the three summary rows like scikit-learn', () => {
    // prepare
    const report = classificationReport(Y_TRUE, Y_PRED, CLASSES);

    // execute
    const text = formatReport(report);
    const lines = text.trimEnd().split('\n');

    // assert: scikit-learn's format, '{:>12s} ' + ' {:>9}' per column (12 = len('weighted avg'))
    expect(lines).toEqual([
      '              precision    recall  f1-score   support',
      '',
      '         cat     0.6000    0.7500    0.6667         4',
      '         dog     0.3333    0.5000    0.4000         2',
      '        bird     0.0000    0.0000    0.0000         2',
      '',
      '    accuracy                         0.5000         8',
      '   macro avg     0.3111    0.4167    0.3556         8',
      'weighted avg     0.3833    0.5000    0.4333         8',
    ]);
  });

  it('honours the digits argument', () => {
    const text = formatReport(classificationReport(Y_TRUE, Y_PRED, CLASSES), 2);

    expect(text).toMatch(/^ {9}cat {7}0\.60 {6}0\.75 {6}0\.67 {9}4$/m);
  });
});

describe('roundsToCsv', () => {
  it('writes a header and one line per round, leaving absent optional values blank', () => {
    // prepare
    const rows: RoundRow[] = [
      { round: 1, participants: 3, loss: 0.5, accuracy: 0.8 },
      { round: 2, participants: 4, loss: 0.25, accuracy: 0.875, trainLoss: 0.3, valAccuracy: 0.9, samples: 1200, durationMs: 1534 },
    ];

    // execute
    const csv = roundsToCsv(rows);
    const records = parse(csv, { columns: true }) as Record<string, string>[];

    // assert
    expect(csv.split('\n')[0]).toBe('round,participants,loss,accuracy,trainLoss,valAccuracy,samples,durationMs,auc,r2');
    expect(csv.endsWith('\n')).toBe(true);
    expect(records).toEqual([
      {
        round: '1',
        participants: '3',
        loss: '0.5',
        accuracy: '0.8',
        trainLoss: '',
        valAccuracy: '',
        samples: '',
        durationMs: '',
        auc: '',
        r2: '',
      },
      {
        round: '2',
        participants: '4',
        loss: '0.25',
        accuracy: '0.875',
        trainLoss: '0.3',
        valAccuracy: '0.9',
        samples: '1200',
        durationMs: '1534',
        auc: '',
        r2: '',
      },
    ]);
  });

  it('writes only the header for no rounds', () => {
    expect(roundsToCsv([])).toBe('round,participants,loss,accuracy,trainLoss,valAccuracy,samples,durationMs,auc,r2\n');
  });
});

describe('plotRoundsSvg', () => {
  it('draws an SVG with titles, axis titles and one point per round in each panel', async () => {
    // prepare
    const rows = fakeRounds(10);

    // execute
    const svg = await plotRoundsSvg(rows, { title: 'MNIST, 5 institutions' });

    // assert
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['MNIST, 5 institutions', 'Round', 'Test accuracy', 'Test loss']) expect(svg).toContain(`>${text}</text>`);
    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(2 * rows.length);
    expect(svg).not.toContain('stroke-dasharray');
  });

  it('starts the accuracy axis a little under the lowest accuracy and ends it at 1', async () => {
    // prepare: lowest accuracy 0.37, so the axis starts at 0.30
    const rows = fakeRounds(10);

    // execute
    const svg = await plotRoundsSvg(rows, { title: 't' });

    // assert
    expect(svg).toContain('>0.30</text>');
    expect(svg).toContain('>1.00</text>');
    expect(svg).not.toContain('>0.20</text>');
  });

  it('draws the baseline as a dashed rule with its label', async () => {
    const svg = await plotRoundsSvg(fakeRounds(3), { title: 't', baseline: { accuracy: 0.975, label: 'centralized' } });

    expect(svg).toContain('stroke-dasharray="6,4"');
    expect(svg).toContain('centralized (0.9750)');
  });

  it('leaves out non-finite values instead of failing', async () => {
    const rows = fakeRounds(3).map((r) => (r.round === 1 ? { ...r, loss: Number.NaN } : r));

    const svg = await plotRoundsSvg(rows, { title: 't' });

    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(3 + 2);
    expect(svg).not.toContain('NaN');
  });
});

describe('createRoundProgress', () => {
  it('writes a header and one aligned plain line per finished round to a non-TTY stream', () => {
    // prepare
    const out = new PassThrough();
    const output = collect(out);
    const progress = createRoundProgress({ rounds: 3, out });

    // execute
    for (const row of fakeRounds(3)) {
      progress.roundStarted(row.round, row.participants);
      progress.update(row.round, { note: 'waiting for updates', samples: 100 });
      progress.roundDone(row);
    }
    progress.message('done');
    progress.close();
    progress.roundDone(fakeRounds(1)[0]!); // ignored after close

    // assert
    const text = output();
    const lines = text.trimEnd().split('\n');
    expect(text).not.toMatch(/[\r\x1b]/);
    expect(lines).toHaveLength(1 + 3 + 1);
    expect(lines[0]).toMatch(/^round\s+participants\s+loss\s+accuracy\s+duration$/);
    expect(lines[1]).toMatch(/^ *1\/3\s+5\s+2\.2800\s+0\.3700\s+900 ms$/);
    expect(lines[3]).toMatch(/^ *3\/3\s+5\s+/);
    expect(new Set(lines.slice(0, 4).map((l) => l.length)).size).toBe(1);
    expect(lines[4]).toBe('done');
  });

  it('redraws a status line in place on a TTY and clears it before round lines and on close', () => {
    // prepare
    const out = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    const output = collect(out);
    const progress = createRoundProgress({ rounds: 2, out });

    // execute
    progress.roundStarted(1, 4);
    progress.update(1, { note: '2/4 updates in' });
    const whileRunning = output();
    progress.roundDone({ round: 1, participants: 4, loss: 0.5, accuracy: 0.9, durationMs: 1500 });
    progress.roundStarted(2, 4);
    progress.close();

    // assert
    expect(whileRunning).toContain('\r\x1b[2K… round 1/2 · 4 participants');
    expect(whileRunning).toContain('2/4 updates in');
    const screen = output()
      .split('\n')
      .map((line) => line.split('\r\x1b[2K').at(-1));
    expect(screen[1]).toMatch(/^ *1\/2\s+4\s+0\.5000\s+0\.9000\s+1\.50 s$/);
    expect(output().endsWith('\r\x1b[2K')).toBe(true);
  });
});
