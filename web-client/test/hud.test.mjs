// The HUD's words without a browser: ordinals, our rank and the room's head count, who tagged
// us. (Where the HUD's parts go is tested in a real browser: tests/browser/hud.test.mjs.)

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { formatRate, headCountLine, ordinal, rankLine, taggedByLine } from '../hud.js';

test('ordinals are English: st, nd, rd, th, and th for the teens of every hundred', () => {
  const cases = {
    1: '1st',
    2: '2nd',
    3: '3rd',
    4: '4th',
    10: '10th',
    11: '11th',
    12: '12th',
    13: '13th',
    14: '14th',
    21: '21st',
    22: '22nd',
    23: '23rd',
    100: '100th',
    101: '101st',
    102: '102nd',
    111: '111th',
    112: '112th',
    113: '113th',
    121: '121st',
    1001: '1001st',
    2011: '2011th',
  };
  for (const [n, expected] of Object.entries(cases)) assert.equal(ordinal(Number(n)), expected);
});

test('our rank reads "you: 23rd of 41", with a dash before it is known', () => {
  assert.equal(rankLine(23, 41), 'you: 23rd of 41');
  assert.equal(rankLine(1, 1), 'you: 1st of 1');
  assert.equal(rankLine(0, 41), 'you: – of 41');
});

test('the head count tells the ships near us from everyone in the room', () => {
  assert.equal(headCountLine(7, 41), '7 nearby · 41 in room');
  assert.equal(headCountLine(0, 1), '0 nearby · 1 in room');
});

test('a tag says by whom', () => {
  assert.equal(taggedByLine('Alice'), 'Tagged by Alice');
});

test('traffic rates in B/s, kB/s and MB/s', () => {
  assert.equal(formatRate(999), '999 B/s');
  assert.equal(formatRate(12_345), '12.3 kB/s');
  assert.equal(formatRate(2_500_000), '2.50 MB/s');
});
