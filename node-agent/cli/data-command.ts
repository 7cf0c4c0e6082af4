/** `cohort data summarize | dictionary`: the counts a site shares and the data dictionary the sites agree before a federation starts. */
import { Command } from 'commander';
import { DataSummarySchema, dictionaryFromSummaries, type DataSummary } from '../../protocol/index.js';
import { summarizeCsv } from '../data/tabular.js';
import { int, missingTokens, nameList } from '../../protocol/cli/options.js';
import { readJson } from '../../protocol/cli/dictionary.js';

export function dataCommand(): Command {
  const cmd = new Command('data').description('tabular data: the counts a site shares, and the data dictionary the sites agree on');
  cmd
    .command('summarize')
    .description(
      "print a site's column summary as JSON: per numeric column the count, mean, m2 and missing count; per text column the category counts; counts below --min-cell suppressed; no row",
    )
    .requiredOption('--data <source>', 'csv:PATH')
    .requiredOption('--label <column>', 'the label column (not summarized)')
    .option('--ignore-columns <names>', 'columns that are not features (ids, dates), comma-separated')
    .option('--columns <names>', 'the feature columns, comma-separated (default: all but the label and the ignored ones)')
    .option('--categorical <names>', 'columns to summarize as categories even when their values are numbers (codes)')
    .option('--missing <tokens>', 'comma-separated cell values that mean missing (an empty cell always does; default: NA,N/A,?,NaN)')
    .option(
      '--min-cell <k>',
      'suppress counts below K: rarer categories are folded into "suppressed", a mean of fewer values left out',
      int(0),
      0,
    )
    .action((o: Record<string, unknown>) => {
      const data = String(o.data);
      if (!data.startsWith('csv:')) throw new Error('--data must be csv:PATH');
      const summary: DataSummary = summarizeCsv(
        data.slice(4),
        {
          label: String(o.label),
          ...(o.ignoreColumns !== undefined ? { ignore: nameList(o.ignoreColumns) } : {}),
          ...(o.columns !== undefined ? { columns: nameList(o.columns) } : {}),
          ...(o.categorical !== undefined ? { categorical: nameList(o.categorical) } : {}),
        },
        { minCell: o.minCell as number, ...(o.missing !== undefined ? { missing: missingTokens(o.missing) } : {}) },
      );
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    });
  cmd
    .command('dictionary')
    .description(
      "print the data dictionary the sites' summaries imply (JSON, for coordinator start --dictionary): column types, missing allowed, category vocabulary",
    )
    .argument('<summaries...>', 'one summary file per site (cohort data summarize)')
    .option('--min-category-count <n>', 'categories seen fewer times in the pooled counts fall into "other"', int(1), 5)
    .action((files: string[], o: Record<string, unknown>) => {
      const summaries = files.map((f) => readJson(f, DataSummarySchema, 'data summary (format cohort-data-summary/v1)'));
      const labels = new Set(summaries.map((s) => s.label ?? ''));
      if (labels.size > 1) throw new Error(`the summaries name different label columns: ${[...labels].join(', ')}`);
      const { dictionary, dropped } = dictionaryFromSummaries(summaries, { minCategoryCount: o.minCategoryCount as number, names: files });
      for (const d of dropped) process.stderr.write(`column "${d.column}" left out: ${d.reason}\n`);
      process.stdout.write(`${JSON.stringify(dictionary, null, 2)}\n`);
    });
  return cmd;
}
