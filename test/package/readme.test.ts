import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/protocol/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it.each(Object.values(ErrorCode))('documents the error code %s', (code) => {
    expect(readme).toContain(`\`${code}\``);
  });

  it('opens with the set-up-and-demo and the test commands', () => {
    const firstBlock = readme.split('```sh')[1]?.split('```')[0] ?? '';
    expect(firstBlock).toContain('npm start');
    expect(firstBlock).toContain('npm test');
  });
});
