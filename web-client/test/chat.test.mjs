// The chat without a browser: what typed lines mean (chat, whispers, mistakes), and how lines
// reach the page: as text only. A fake DOM records every element created and refuses any HTML
// parsing, and the client's sources are checked for HTML sinks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

import {
  ChatPanel,
  LINE_FADE_MS,
  LINE_VISIBLE_MS,
  MAX_LINES,
  lineOpacity,
  parseChatInput,
  renderLine,
} from '../chat.js';

const ME = 1;
const ROSTER = new Map([
  [ME, 'Alice'],
  [2, 'Bob'],
  [3, 'Bob Smith'],
  [4, 'Zoë'],
  [5, 'Bo'],
]);

const HOSTILE = '<img src=x onerror=alert(1)><b>bold</b>';

test('plain text is a chat line for everyone, trimmed and checked like the server does', () => {
  assert.deepEqual(parseChatInput('  hello  ', ROSTER, ME), { kind: 'chat', text: 'hello' });
  assert.deepEqual(parseChatInput(HOSTILE, ROSTER, ME), { kind: 'chat', text: HOSTILE });
  assert.deepEqual(parseChatInput('   ', ROSTER, ME), { kind: 'none' });
  assert.deepEqual(parseChatInput('x'.repeat(201), ROSTER, ME), {
    kind: 'error',
    error: 'message is longer than 200 characters',
  });
  assert.deepEqual(parseChatInput('ring\u0007', ROSTER, ME), {
    kind: 'error',
    error: 'message contains a control character',
  });
});

test('/w Name text whispers; the longest matching name wins, in any case', () => {
  const whisper = (to, toName, text) => ({ kind: 'whisper', to, toName, text });
  assert.deepEqual(parseChatInput('/w Bob hi there', ROSTER, ME), whisper(2, 'Bob', 'hi there'));
  assert.deepEqual(parseChatInput('/W bob  hi', ROSTER, ME), whisper(2, 'Bob', 'hi'));
  assert.deepEqual(parseChatInput('/whisper Bob Smith hi', ROSTER, ME), whisper(3, 'Bob Smith', 'hi'));
  assert.deepEqual(parseChatInput('/w Bo hi', ROSTER, ME), whisper(5, 'Bo', 'hi'));
  assert.deepEqual(parseChatInput('/w zoë ça va ?', ROSTER, ME), whisper(4, 'Zoë', 'ça va ?'));
  assert.deepEqual(parseChatInput('/w #3 psst', ROSTER, ME), whisper(3, 'Bob Smith', 'psst'));
  assert.deepEqual(parseChatInput(`/w Bob ${HOSTILE}`, ROSTER, ME), whisper(2, 'Bob', HOSTILE));
});

test('whisper mistakes are explained instead of sent', () => {
  const error = (typed) => {
    const result = parseChatInput(typed, ROSTER, ME);
    assert.equal(result.kind, 'error', typed);
    return result.error;
  };
  assert.match(error('/w'), /to whisper, type \/w Name message/);
  assert.match(error('/w Bobby hi'), /no player called Bobby/);
  assert.match(error('/w Nobody hi'), /no player called Nobody/);
  assert.match(error('/w #99 hi'), /no player #99/);
  assert.match(error('/w Bob'), /message is empty/);
  assert.match(error('/w Alice hi'), /that is you/);
  assert.match(error('/shout hi'), /unknown command \/shout/);
  assert.match(error('/wBob hi'), /unknown command \/wBob/);
  const twins = new Map([
    [1, 'Alice'],
    [8, 'Sam'],
    [9, 'sam'],
  ]);
  assert.match(error('/w Sam hi'), /no player called Sam/);
  const ambiguous = parseChatInput('/w sam hi', twins, 1);
  assert.deepEqual(ambiguous, {
    kind: 'error',
    error: '2 players are called Sam (#8, #9): use /w #id message',
  });
  assert.equal(parseChatInput('/w #9 hi', twins, 1).to, 9, 'an id settles it');
});

// -------------------------------------------------------------------------------------------
// Rendering: text only.

/** A fake DOM: elements record their children and text; any HTML parsing throws. */
class FakeElement {
  constructor(doc, tagName) {
    this.ownerDocument = doc;
    this.tagName = tagName.toUpperCase();
    this.children = [];
    this.className = '';
    this.style = {};
    this.ownText = '';
    this.listeners = {};
    this.hidden = false;
    this.scrollTop = 0;
    this.scrollHeight = 0;
    this.classes = new Set();
    this.classList = {
      add: (name) => this.classes.add(name),
      remove: (name) => this.classes.delete(name),
    };
  }

  set textContent(text) {
    this.children = [];
    this.ownText = String(text);
  }

  get textContent() {
    return this.ownText + this.children.map((c) => c.textContent).join('');
  }

  set innerHTML(_) {
    throw new Error('innerHTML must never be used');
  }

  insertAdjacentHTML() {
    throw new Error('insertAdjacentHTML must never be used');
  }

  append(child) {
    assert.ok(child instanceof FakeElement, 'only elements built with createElement are appended');
    child.parent = this;
    this.children.push(child);
  }

  remove() {
    const siblings = this.parent.children;
    siblings.splice(siblings.indexOf(this), 1);
  }

  get firstElementChild() {
    return this.children[0] ?? null;
  }

  addEventListener(name, fn) {
    this.listeners[name] = fn;
  }

  focus() {
    this.ownerDocument.activeElement = this;
  }

  blur() {
    if (this.ownerDocument.activeElement === this) this.ownerDocument.activeElement = null;
    this.listeners.blur?.();
  }

  /** Every element below this one, depth first. */
  *descendants() {
    for (const child of this.children) {
      yield child;
      yield* child.descendants();
    }
  }
}

class FakeDocument {
  constructor() {
    this.created = [];
    this.activeElement = null;
  }

  createElement(tagName) {
    const element = new FakeElement(this, tagName);
    this.created.push(element.tagName);
    return element;
  }
}

test('a line with markup in every field is built from text nodes only', () => {
  const doc = new FakeDocument();
  for (const kind of ['chat', 'whisper-in', 'whisper-out', 'system', 'error']) {
    const element = renderLine(doc, { kind, playerId: 2, name: '<i>Bob</i>', text: HOSTILE });
    assert.equal(element.tagName, 'DIV');
    const tags = [...element.descendants()].map((e) => e.tagName);
    assert.ok(tags.every((tag) => tag === 'SPAN'), `${kind}: ${tags}`);
    assert.ok(element.textContent.endsWith(HOSTILE), `${kind}: ${element.textContent}`);
    assert.equal(element.className, `line ${kind}`);
  }
  assert.ok(doc.created.every((tag) => tag === 'DIV' || tag === 'SPAN'));
});

test('names and text of each kind of line read as they should', () => {
  const doc = new FakeDocument();
  const text = (line) => renderLine(doc, line).textContent;
  assert.equal(text({ kind: 'chat', playerId: 2, name: 'Bob', text: 'gg' }), 'Bob: gg');
  assert.equal(text({ kind: 'whisper-in', playerId: 2, name: 'Bob', text: 'psst' }), 'Bob whispers: psst');
  assert.equal(text({ kind: 'whisper-out', playerId: 2, name: 'Bob', text: 'hi' }), 'to Bob: hi');
  assert.equal(text({ kind: 'system', playerId: 2, name: 'Bob', text: 'Bob joined' }), 'Bob joined');
  const line = renderLine(doc, { kind: 'chat', playerId: 2, name: 'Bob', text: 'gg', mine: true });
  assert.equal(line.className, 'line chat mine');
  assert.match(line.children[0].style.color, /^hsl\(\d+, 95%, 68%\)$/, 'colour from the numeric id');
});

test('the panel keeps the newest lines only, in the page and in its list', () => {
  const doc = new FakeDocument();
  const elements = {
    panel: doc.createElement('section'),
    log: doc.createElement('div'),
    form: doc.createElement('form'),
    input: doc.createElement('input'),
  };
  let closed = 0;
  const panel = new ChatPanel(elements, () => true, () => closed++);
  for (let i = 0; i < MAX_LINES + 20; i++) panel.add({ kind: 'system', text: `line ${i}` });
  assert.equal(panel.lines.length, MAX_LINES);
  assert.equal(elements.log.children.length, MAX_LINES);
  assert.equal(elements.log.children[0].textContent, 'line 20');
  assert.equal(panel.lines.at(-1).text, `line ${MAX_LINES + 19}`);

  panel.open();
  assert.equal(panel.isOpen, true);
  assert.ok(elements.panel.classes.has('typing'));
  panel.close();
  assert.equal(panel.isOpen, false);
  assert.equal(closed, 1);
  assert.ok(!elements.panel.classes.has('typing'));
});

test('a line stays readable for six seconds, then fades out over one and leaves the feed', () => {
  assert.ok(LINE_VISIBLE_MS >= 5000, 'long enough to read a line in the middle of a fight');
  assert.equal(lineOpacity(0), 1);
  assert.equal(lineOpacity(LINE_VISIBLE_MS), 1);
  assert.equal(lineOpacity(LINE_VISIBLE_MS + LINE_FADE_MS / 2), 0.5);
  assert.equal(lineOpacity(LINE_VISIBLE_MS + LINE_FADE_MS), 0);

  const doc = new FakeDocument();
  const log = doc.createElement('div');
  const elements = { panel: doc.createElement('section'), log, form: doc.createElement('form'), input: doc.createElement('input') };
  const panel = new ChatPanel(elements, () => true, () => {});
  panel.add({ kind: 'chat', playerId: 2, name: 'Bob', text: 'first' }, 1000);
  panel.add({ kind: 'chat', playerId: 1, name: 'Alice', text: 'sent by me', mine: true }, 4000);
  const [first, second] = log.children;
  const seen = () => [first, second].map((e) => [e.style.opacity, e.classes.has('faded')]);
  panel.fade(1000 + LINE_VISIBLE_MS);
  assert.deepEqual(seen(), [['', false], ['', false]], 'both fully visible');
  panel.fade(1000 + LINE_VISIBLE_MS + LINE_FADE_MS / 2);
  assert.deepEqual(seen(), [['0.50', false], ['', false]], 'the first half faded');
  panel.fade(1000 + LINE_VISIBLE_MS + LINE_FADE_MS);
  assert.deepEqual(seen(), [['0.00', true], ['', false]], 'the first gone, the one just sent still up');
  panel.fade(4000 + LINE_VISIBLE_MS + LINE_FADE_MS);
  assert.deepEqual(seen(), [['0.00', true], ['0.00', true]]);
  assert.equal(panel.fading.length, 0, 'faded lines are visited no more');
  assert.equal(panel.lines.length, 2, 'the history keeps them');
});

test('no client module hands text to an HTML parser', () => {
  const dir = new URL('../', import.meta.url);
  const sinks = /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment|srcdoc)\b/;
  const files = readdirSync(dir).filter((name) => name.endsWith('.js'));
  assert.ok(files.includes('chat.js') && files.includes('main.js'));
  for (const name of files) {
    const source = readFileSync(new URL(name, dir), 'utf8');
    // Comments may name the sinks (to forbid them); code may not.
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(code, sinks, `${name} uses an HTML sink`);
  }
});
