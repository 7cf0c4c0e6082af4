/** The `e2e` fixture itself: what a test registers is cleaned up after it, last first, even when the test fails. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Agent } from '../../node-agent/index.js';
import { e2e } from './helpers.js';

const closed: string[] = [];
let dir = '';

describe('the e2e fixture', () => {
  e2e.fails(
    '(a test that fails after registering an agent, two resources, a clean-up step and a temporary directory)',
    async ({ cohort }) => {
      cohort.track({ close: () => closed.push('first resource') });
      dir = cohort.tempDir();
      cohort.defer(() => closed.push(`clean-up step (directory still there: ${existsSync(dir)})`));
      cohort.track({ close: async () => void closed.push('last resource') });
      cohort.agents.push({ close: () => closed.push('agent') } as unknown as Agent);
      throw new Error('the test fails');
    },
  );

  it('closed the agents first, then the rest last first, and removed the directory', () => {
    expect(closed).toEqual(['agent', 'last resource', 'clean-up step (directory still there: true)', 'first resource']);
    expect(existsSync(dir)).toBe(false);
  });
});
