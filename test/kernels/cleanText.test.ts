import { cleanText } from '../../src/kernels/execute';

describe('cleanText: what a kernel sends becomes text the store can hold', () => {
  test.each([
    ['plain text stays', 'héllo 名前 😀', 'héllo 名前 😀'],
    ['NUL becomes U+FFFD', 'a\u0000b', 'a\uFFFDb'],
    ['a lone high surrogate becomes U+FFFD', 'x\uD800y', 'x\uFFFDy'],
    ['a lone low surrogate becomes U+FFFD', '\uDC00z', '\uFFFDz'],
    ['a reversed pair becomes two U+FFFD', '\uDC00\uD800', '\uFFFD\uFFFD'],
    ['a high surrogate at the end becomes U+FFFD', 'end\uD83D', 'end\uFFFD'],
  ])('%s', (_name, given, want) => {
    expect(cleanText(given)).toBe(want);
  });
});
