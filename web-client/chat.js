/**
 * The chat and the event feed: what the player types (`/w Name text` whispers), and the lines
 * shown in the panel: chat, whispers, and notices (joined, left, lost connection, back).
 *
 * Everything shown here comes from other people over the network, so it reaches the page only as
 * text: elements are built with `createElement` and filled with `textContent`, never `innerHTML`
 * or any other HTML parser, and names and messages never go into attributes or styles (the
 * colour comes from the player's numeric id). It sends nothing itself: the page passes what the
 * player typed to {@link parseChatInput} and sends the result.
 */

import { validateChat } from './protocol.js';
import { playerHue } from './render.js';

/** Lines the panel keeps; older ones are removed from the page. */
export const MAX_LINES = 100;
/**
 * A line stays fully visible this long after it arrives (ms), long enough to read a line just
 * sent or received in the middle of a fight, then fades out over {@link LINE_FADE_MS} and leaves
 * the feed (opening the box shows every line kept).
 */
export const LINE_VISIBLE_MS = 6000;
export const LINE_FADE_MS = 1000;

/**
 * One line of the feed.
 * @typedef {object} ChatLine
 * @property {'chat' | 'whisper-in' | 'whisper-out' | 'system' | 'error'} kind
 * @property {string} text
 * @property {number} [playerId] who said it (chat, whisper-in) or to whom (whisper-out)
 * @property {string} [name] that player's name at the time
 * @property {boolean} [mine] said by us
 */

/**
 * What the player typed, understood.
 * @typedef {{kind: 'none'}
 *   | {kind: 'chat', text: string}
 *   | {kind: 'whisper', to: number, toName: string, text: string}
 *   | {kind: 'error', error: string}} ChatCommand
 */

const WHISPER = /^\/(?:w|whisper)(?:\s+|$)/i;
const WHISPER_USAGE = 'to whisper, type /w Name message or /w #id message';

/**
 * Turns a line typed in the chat box into something to send: a chat line for everyone, a
 * whisper (`/w Name text`, `/w #7 text`; names may contain spaces, the longest matching name
 * wins), or an error to show instead of sending anything.
 * @param {string} raw
 * @param {Map<number, string>} roster id → name of the players in the game
 * @param {number | null} myId
 * @returns {ChatCommand}
 */
export function parseChatInput(raw, roster, myId) {
  const typed = String(raw).trim();
  if (typed === '') return { kind: 'none' };
  if (!typed.startsWith('/')) return checked(typed, (text) => ({ kind: 'chat', text }));

  const whisper = WHISPER.exec(typed);
  if (!whisper) {
    const command = typed.split(/\s/, 1)[0];
    return { kind: 'error', error: `unknown command ${command}: ${WHISPER_USAGE}` };
  }
  const rest = typed.slice(whisper[0].length);
  if (rest === '') return { kind: 'error', error: WHISPER_USAGE };

  const target = findTarget(rest, roster);
  if ('error' in target) return { kind: 'error', error: target.error };
  if (target.id === myId) return { kind: 'error', error: 'that is you: whisper to someone else' };
  return checked(target.text, (text) => ({
    kind: 'whisper',
    to: target.id,
    toName: target.name,
    text,
  }));
}

/**
 * @param {string} raw
 * @param {(text: string) => ChatCommand} make
 * @returns {ChatCommand}
 */
function checked(raw, make) {
  const result = validateChat(raw);
  return result.ok ? make(result.text) : { kind: 'error', error: result.error };
}

/**
 * The player a whisper names at the start of `rest`, and the text after it.
 * @param {string} rest
 * @param {Map<number, string>} roster
 * @returns {{id: number, name: string, text: string} | {error: string}}
 */
function findTarget(rest, roster) {
  const byId = /^#(\d{1,10})(?:\s+|$)/.exec(rest);
  if (byId) {
    const id = Number(byId[1]);
    if (!roster.has(id)) return { error: `there is no player #${id} in the game` };
    return { id, name: roster.get(id), text: rest.slice(byId[0].length) };
  }
  let best = /** @type {{id: number, name: string}[]} */ ([]);
  let bestLength = 0;
  for (const [id, name] of roster) {
    if (name.length === 0 || rest.slice(0, name.length).toLowerCase() !== name.toLowerCase()) {
      continue;
    }
    const follows = rest.charAt(name.length);
    if (follows !== '' && !/\s/.test(follows)) continue;
    if (name.length > bestLength) {
      best = [{ id, name }];
      bestLength = name.length;
    } else if (name.length === bestLength) {
      best.push({ id, name });
    }
  }
  if (best.length === 0) {
    const word = rest.split(/\s/, 1)[0];
    return { error: `there is no player called ${word} in the game` };
  }
  if (best.length > 1) {
    const ids = best.map((p) => `#${p.id}`).join(', ');
    const error = `${best.length} players are called ${best[0].name} (${ids}): use /w #id message`;
    return { error };
  }
  return { ...best[0], text: rest.slice(bestLength).trim() };
}

/**
 * Builds the element of one line. Every piece of text goes in with `textContent`.
 * @param {Document} doc
 * @param {ChatLine} line
 * @returns {HTMLElement}
 */
export function renderLine(doc, line) {
  const element = doc.createElement('div');
  element.className = `line ${line.kind}${line.mine ? ' mine' : ''}`;
  const add = (/** @type {string} */ className, /** @type {string} */ text) => {
    const span = doc.createElement('span');
    span.className = className;
    span.textContent = text;
    element.append(span);
    return span;
  };
  const name = line.name ?? '';
  switch (line.kind) {
    case 'chat':
      colour(add('who', name), line.playerId);
      add('sep', ': ');
      break;
    case 'whisper-in':
      colour(add('who', name), line.playerId);
      add('sep', ' whispers: ');
      break;
    case 'whisper-out':
      add('sep', 'to ');
      colour(add('who', name), line.playerId);
      add('sep', ': ');
      break;
    default:
      break;
  }
  add('text', line.text);
  return element;
}

/**
 * @param {HTMLElement} span
 * @param {number | undefined} id
 */
function colour(span, id) {
  if (typeof id === 'number') span.style.color = `hsl(${playerHue(id)}, 95%, 68%)`;
}

/**
 * How visible a line is `age` ms after it arrived: fully for {@link LINE_VISIBLE_MS}, then
 * fading to nothing over {@link LINE_FADE_MS}.
 * @param {number} age
 */
export function lineOpacity(age) {
  if (age <= LINE_VISIBLE_MS) return 1;
  return Math.max(0, 1 - (age - LINE_VISIBLE_MS) / LINE_FADE_MS);
}

/**
 * The panel on the page: the feed, and the box to type in. Enter (outside any field) or the
 * page's chat button opens the box, Enter sends, Escape closes it; the page decides what
 * sending means. Lines fade as {@link lineOpacity} says, as {@link ChatPanel.fade} is called.
 */
export class ChatPanel {
  /**
   * @param {object} elements
   * @param {HTMLElement} elements.panel shown once in a game
   * @param {HTMLElement} elements.log where lines go
   * @param {HTMLFormElement} elements.form
   * @param {HTMLInputElement} elements.input
   * @param {(typed: string) => Promise<boolean> | boolean} onSubmit sends what was typed;
   *   resolves to whether the box may be cleared
   * @param {() => void} onClose gives the focus back to the game
   * @param {() => number} [clock] ms, when a line arrives (for its fading)
   */
  constructor({ panel, log, form, input }, onSubmit, onClose, clock = () => 0) {
    this.panel = panel;
    this.log = log;
    this.form = form;
    this.input = input;
    this.onClose = onClose;
    this.clock = clock;
    /** @type {ChatLine[]} the lines shown, oldest first (the test hook reads them) */
    this.lines = [];
    /**
     * The lines not yet faded out, oldest first: their elements and when they arrived.
     * @type {{element: HTMLElement, at: number}[]}
     */
    this.fading = [];
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const typed = input.value;
      if (typed.trim() === '') {
        this.close();
        return;
      }
      if (await onSubmit(typed)) {
        input.value = '';
        this.close();
      }
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        input.value = '';
        this.close();
      }
      // Keys typed here are text, not controls.
      event.stopPropagation();
    });
    // Clicking back into the game closes the box too.
    input.addEventListener('blur', () => panel.classList.remove('typing'));
  }

  /** Shows the panel (once in a game). @param {boolean} visible */
  show(visible) {
    this.panel.hidden = !visible;
  }

  get isOpen() {
    return this.panel.ownerDocument.activeElement === this.input;
  }

  /** Puts the cursor in the box. */
  open() {
    this.panel.classList.add('typing');
    this.input.focus();
    this.log.scrollTop = this.log.scrollHeight;
  }

  close() {
    this.panel.classList.remove('typing');
    this.input.blur();
    this.onClose();
  }

  /**
   * @param {ChatLine} line
   * @param {number} [now] ms, when it arrived (for its fading); the clock's time by default
   */
  add(line, now = this.clock()) {
    this.lines.push(line);
    const element = renderLine(this.log.ownerDocument, line);
    this.log.append(element);
    this.fading.push({ element, at: now });
    while (this.lines.length > MAX_LINES) {
      this.lines.shift();
      const gone = this.log.firstElementChild;
      gone?.remove();
      if (this.fading[0]?.element === gone) this.fading.shift();
    }
    this.log.scrollTop = this.log.scrollHeight;
  }

  /**
   * Fades the lines that have been up for long enough; those that have faded out leave the
   * feed (the open box still lists them). Cheap: only lines not yet gone are visited.
   * @param {number} now ms
   */
  fade(now) {
    let gone = 0;
    for (const { element, at } of this.fading) {
      const opacity = lineOpacity(now - at);
      const value = opacity >= 1 ? '' : opacity.toFixed(2);
      if (element.style.opacity !== value) element.style.opacity = value;
      if (opacity === 0) {
        element.classList.add('faded');
        gone++;
      }
    }
    // Lines arrive in order, so the faded ones are the oldest.
    if (gone > 0) this.fading.splice(0, gone);
  }
}
