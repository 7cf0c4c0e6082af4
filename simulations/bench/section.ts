/** The contract between `npm run bench` and each of its sections: one measured table of ratios per section. */

/** How a bench run is asked to behave. */
export interface BenchContext {
  /** Seconds, not minutes: tiny sizes and few repetitions, so CI can run every section and the bench never rots. */
  quick: boolean;
  /** A folder the section may write plots or raw data into (already created). */
  outDir: string;
  /** Progress lines for the person watching (stderr). */
  log: (line: string) => void;
  /** Rounds for sections that run federated rounds (`--rounds`); each section has its own default. */
  rounds?: number;
}

/** One row of a section's table; cells are already formatted for markdown, `values` keeps the raw numbers for the JSON. */
export interface BenchRow {
  cells: string[];
  values?: Record<string, number | string | boolean | null>;
}

/** What a section returns: its table, its notes (targets met or missed, baselines, caps), and raw numbers. */
export interface BenchResult {
  title: string;
  columns: string[];
  rows: BenchRow[];
  notes: string[];
  /** Headline numbers a section wants at a fixed place in bench.json (e.g. simulation's ratioVsPytorch). */
  summary?: Record<string, unknown>;
}

/** A section of `npm run bench`. `id` is what `npm run bench -- --only ID` selects. */
export interface BenchSection {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}
