/** Docs stay connected: every relative link in README.md and docs/ reaches a file, and every #anchor a heading. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../simulations/cli-helpers.js';

function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    );
  return ['README.md', ...walk('docs').sort()];
}

/** GitHub's anchor for a heading: lower case, punctuation other than - and _ dropped, spaces to -. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchors(file: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (!fenced && /^#{1,6} /.test(line)) out.add(slug(line.replace(/^#+ /, '')));
  }
  return out;
}

describe('links in the docs', () => {
  it('reach an existing file and, with a #fragment, an existing heading', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = m[1]!;
          if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
          const [path, fragment] = target.split('#') as [string, string | undefined];
          const resolved = path === '' ? file : normalize(join(dirname(file), path));
          if (!existsSync(join(ROOT, resolved))) broken.push(`${file}:${i + 1}: ${target} (no file ${resolved})`);
          else if (fragment && resolved.endsWith('.md') && !anchors(resolved).has(fragment))
            broken.push(`${file}:${i + 1}: ${target} (no heading #${fragment} in ${resolved})`);
        }
      });
    }

    expect(broken).toEqual([]);
  });
});
