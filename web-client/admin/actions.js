/**
 * The operator's actions on the page: the reason row that a "kick" or "close" button opens
 * (in the page: a dialog would block it, and a test treats one as a failure), the notice form,
 * and the action log, where every action is a line until its `result` turns it green or red.
 * Checks each text as the server will before sending. Must never send a reason the operator
 * did not type, nor write server text other than as text.
 */

import { validateChat } from '../protocol.js';

/** Lines the log keeps (the oldest go). */
const LOG_LINES = 50;

/**
 * @typedef {object} ActionResult a `result` from the server, as the test hook shows it
 * @property {number | null} id
 * @property {boolean} ok
 * @property {string} text the message or the error
 * @property {string} action what it answered (`kick Mallory (#12)`), '' if unknown
 */

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

export class ActionDesk {
  /**
   * @param {(action: Record<string, any>) => number | null} send the socket's `send`
   */
  constructor(send) {
    this.send = send;
    /** @type {ActionResult[]} every result received, oldest first (the test hook reads it) */
    this.results = [];
    /** @type {Map<number, {what: string, line: HTMLLIElement}>} actions awaiting their result */
    this.pending = new Map();
    /** @type {null | ((reason: string) => Record<string, any>)} what the reason row will send */
    this.makeAction = null;
    this.what = '';
    this.form = /** @type {HTMLFormElement} */ (byId('action-form'));
    this.reason = /** @type {HTMLInputElement} */ (byId('action-reason'));
    this.log = byId('action-log');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submitReason();
    });
    byId('action-cancel').addEventListener('click', () => this.closeReasonRow());
    const notice = /** @type {HTMLFormElement} */ (byId('notice-form'));
    notice.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submitNotice();
    });
  }

  /**
   * Opens the reason row for kicking `player`.
   * @param {{id: number, name: string}} player
   */
  askKick(player) {
    this.openReasonRow(`Kick ${player.name} (#${player.id})`, 'Kick', (reason) => ({ type: 'kick', player: player.id, reason }));
  }

  /**
   * Opens the reason row for closing `room`.
   * @param {{id: number, players: number}} room
   */
  askCloseRoom(room) {
    const players = room.players === 1 ? '1 player' : `${room.players} players`;
    this.openReasonRow(`Close room ${room.id} (${players})`, 'Close room', (reason) => ({
      type: 'close_room',
      room: room.id,
      reason,
    }));
  }

  /**
   * Shows a `result` in the log and keeps it.
   * @param {{id: number | null, ok: boolean, message?: string, error?: string}} message
   */
  received(message) {
    const ok = message.ok === true;
    const text = String((ok ? message.message : message.error) ?? (ok ? 'done' : 'failed'));
    const id = typeof message.id === 'number' ? message.id : null;
    const pending = id === null ? undefined : this.pending.get(id);
    if (id !== null) this.pending.delete(id);
    const what = pending?.what ?? '';
    this.results.push({ id, ok, text, action: what });
    const line = pending?.line ?? this.addLine('');
    writeLine(line, ok ? 'ok' : 'error', what ? `${what}: ${text}` : text);
  }

  /**
   * @private
   * @param {string} title
   * @param {string} button
   * @param {(reason: string) => Record<string, any>} makeAction
   */
  openReasonRow(title, button, makeAction) {
    this.what = title;
    this.makeAction = makeAction;
    byId('action-title').textContent = title;
    byId('action-submit').textContent = button;
    byId('action-error').textContent = '';
    this.reason.value = '';
    this.form.hidden = false;
    this.reason.focus();
  }

  /** @private */
  closeReasonRow() {
    this.form.hidden = true;
    this.makeAction = null;
  }

  /** @private */
  submitReason() {
    if (!this.makeAction) return;
    const checked = validateChat(this.reason.value);
    if (!checked.ok) {
      byId('action-error').textContent = `reason: ${checked.error}`;
      return;
    }
    if (this.dispatch(this.makeAction(checked.text), `${this.what}, “${checked.text}”`, 'action-error')) {
      this.closeReasonRow();
    }
  }

  /** @private */
  submitNotice() {
    const input = /** @type {HTMLInputElement} */ (byId('notice-text'));
    const checked = validateChat(input.value);
    byId('notice-error').textContent = '';
    if (!checked.ok) {
      byId('notice-error').textContent = `notice: ${checked.error}`;
      return;
    }
    if (this.dispatch({ type: 'notice', text: checked.text }, `Notice “${checked.text}”`, 'notice-error')) {
      input.value = '';
    }
  }

  /**
   * Sends an action and logs it as pending; says so under the form if it could not go.
   * @private
   * @param {Record<string, any>} action
   * @param {string} what
   * @param {string} errorId the form's error line
   * @returns {boolean} whether it was sent
   */
  dispatch(action, what, errorId) {
    const id = this.send(action);
    if (id === null) {
      byId(errorId).textContent = 'not connected: try again when the page is live';
      return false;
    }
    const line = this.addLine('');
    writeLine(line, 'pending', `${what}…`);
    this.pending.set(id, { what, line });
    return true;
  }

  /**
   * @private
   * @param {string} text
   */
  addLine(text) {
    const line = document.createElement('li');
    line.textContent = text;
    this.log.prepend(line);
    while (this.log.children.length > LOG_LINES) this.log.lastElementChild?.remove();
    return line;
  }
}

/**
 * Writes a log line: its time, then its text (as text).
 * @param {HTMLLIElement} line
 * @param {'ok' | 'error' | 'pending'} kind
 * @param {string} text
 */
function writeLine(line, kind, text) {
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  line.className = kind;
  line.replaceChildren(time, document.createTextNode(text));
}
