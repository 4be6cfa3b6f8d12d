/**
 * The player's hands: keyboard (WASD or arrows to steer, space to fire), mouse (aim, click to
 * fire) and touch through Pointer Events (a touch on the left half of the screen is a joystick
 * centred where it landed; a touch on the right half aims there and fires while held). Turns
 * them into the `buttons` bits and aim angle of one client tick, and says where the joystick
 * is (`touch`) so the renderer can draw it.
 *
 * It only listens and reports; it never sends anything or knows about the game's state. Keys
 * typed into a form field (the name screen) are left alone.
 */

import { Buttons } from './protocol.js';

/** Physical keys (`KeyboardEvent.code`, so WASD works on any layout) → button bits. */
const KEY_BUTTONS = new Map([
  ['KeyW', Buttons.UP],
  ['ArrowUp', Buttons.UP],
  ['KeyS', Buttons.DOWN],
  ['ArrowDown', Buttons.DOWN],
  ['KeyA', Buttons.LEFT],
  ['ArrowLeft', Buttons.LEFT],
  ['KeyD', Buttons.RIGHT],
  ['ArrowRight', Buttons.RIGHT],
  ['Space', Buttons.FIRE],
]);

/** A joystick drag shorter than this (CSS pixels) is a dead zone. */
const JOYSTICK_DEAD_ZONE = 14;
/** How far the drawn knob can move from the joystick's centre (CSS pixels). */
export const JOYSTICK_RADIUS = 56;
/** Cosine of 67.5°: a joystick direction within it of an axis presses that axis's button. */
const JOYSTICK_AXIS_COS = 0.38;

export class Controls {
  /**
   * @param {HTMLElement} surface the element that receives pointer input (the canvas)
   * @param {Window} [target] where keys are listened to
   */
  constructor(surface, target = window) {
    this.surface = surface;
    this.target = target;
    /** @type {Set<string>} codes of the keys held down */
    this.keys = new Set();
    /** Mouse position in CSS pixels relative to the surface, once the mouse has moved. */
    this.pointerX = 0;
    this.pointerY = 0;
    this.hasPointer = false;
    this.mouseFiring = false;
    /** Touch joystick: the touch that steers, where it started and its current buttons. */
    this.stickId = null;
    this.stickOriginX = 0;
    this.stickOriginY = 0;
    this.stickButtons = 0;
    /** Touch that aims and fires. */
    this.aimTouchId = null;
    /**
     * The touch controls as the renderer draws them, in CSS pixels relative to the surface.
     * `used` is set by the first touch (from then on the idle joystick is hinted at).
     */
    this.touch = {
      used: false,
      stickActive: false,
      originX: 0,
      originY: 0,
      knobX: 0,
      knobY: 0,
      firing: false,
      fireX: 0,
      fireY: 0,
    };
    /** Returned by {@link sample}; reused. */
    this.sampled = { buttons: 0, aim: /** @type {number | null} */ (null) };
    this.onKeyDown = this.onKeyDown.bind(this);
    this.onKeyUp = this.onKeyUp.bind(this);
    this.onBlur = this.onBlur.bind(this);
    this.onPointerDown = this.onPointerDown.bind(this);
    this.onPointerMove = this.onPointerMove.bind(this);
    this.onPointerUp = this.onPointerUp.bind(this);
  }

  attach() {
    this.target.addEventListener('keydown', this.onKeyDown);
    this.target.addEventListener('keyup', this.onKeyUp);
    this.target.addEventListener('blur', this.onBlur);
    this.surface.addEventListener('pointerdown', this.onPointerDown);
    this.target.addEventListener('pointermove', this.onPointerMove);
    this.target.addEventListener('pointerup', this.onPointerUp);
    this.target.addEventListener('pointercancel', this.onPointerUp);
    this.surface.addEventListener('contextmenu', preventDefault);
  }

  detach() {
    this.target.removeEventListener('keydown', this.onKeyDown);
    this.target.removeEventListener('keyup', this.onKeyUp);
    this.target.removeEventListener('blur', this.onBlur);
    this.surface.removeEventListener('pointerdown', this.onPointerDown);
    this.target.removeEventListener('pointermove', this.onPointerMove);
    this.target.removeEventListener('pointerup', this.onPointerUp);
    this.target.removeEventListener('pointercancel', this.onPointerUp);
    this.surface.removeEventListener('contextmenu', preventDefault);
    this.onBlur();
  }

  /**
   * The controls for one tick. `aim` points from the ship's spot on screen to the mouse (or the
   * aiming touch); it is null when there is no pointer, meaning "face where you move".
   * @param {number} shipScreenX where our ship is drawn, CSS pixels from the surface's left
   * @param {number} shipScreenY
   * @returns {{buttons: number, aim: number | null}} reused between calls
   */
  sample(shipScreenX, shipScreenY) {
    let buttons = this.stickButtons;
    for (const code of this.keys) buttons |= KEY_BUTTONS.get(code) ?? 0;
    if (this.mouseFiring || this.aimTouchId !== null) buttons |= Buttons.FIRE;
    this.sampled.buttons = buttons;
    this.sampled.aim = this.hasPointer
      ? Math.atan2(this.pointerY - shipScreenY, this.pointerX - shipScreenX)
      : null;
    return this.sampled;
  }

  /** @param {KeyboardEvent} event */
  onKeyDown(event) {
    if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!KEY_BUTTONS.has(event.code)) return;
    this.keys.add(event.code);
    event.preventDefault(); // No page scrolling on arrows and space.
  }

  /** @param {KeyboardEvent} event */
  onKeyUp(event) {
    if (this.keys.delete(event.code)) event.preventDefault();
  }

  /** Losing focus loses the key-up events too: release everything rather than stick. */
  onBlur() {
    this.keys.clear();
    this.mouseFiring = false;
    this.stickId = null;
    this.stickButtons = 0;
    this.aimTouchId = null;
    this.touch.stickActive = false;
    this.touch.firing = false;
  }

  /** @param {PointerEvent} event */
  onPointerDown(event) {
    if (event.pointerType === 'touch') {
      const rect = this.surface.getBoundingClientRect();
      const x = event.clientX - rect.left;
      const y = event.clientY - rect.top;
      const touch = this.touch;
      touch.used = true;
      if (x < rect.width / 2 && this.stickId === null) {
        this.stickId = event.pointerId;
        this.stickOriginX = event.clientX;
        this.stickOriginY = event.clientY;
        touch.stickActive = true;
        touch.originX = touch.knobX = x;
        touch.originY = touch.knobY = y;
      } else if (this.aimTouchId === null) {
        this.aimTouchId = event.pointerId;
        this.setPointer(event);
        touch.firing = true;
        touch.fireX = x;
        touch.fireY = y;
      }
    } else if (event.button === 0) {
      this.mouseFiring = true;
      this.setPointer(event);
    }
    event.preventDefault();
  }

  /** @param {PointerEvent} event */
  onPointerMove(event) {
    if (event.pointerType === 'touch') {
      if (event.pointerId === this.stickId) {
        const dx = event.clientX - this.stickOriginX;
        const dy = event.clientY - this.stickOriginY;
        this.stickButtons = stickToButtons(dx, dy);
        // The knob stays on the joystick's rim however far the thumb goes.
        const scale = Math.min(1, JOYSTICK_RADIUS / Math.max(1, Math.hypot(dx, dy)));
        this.touch.knobX = this.touch.originX + dx * scale;
        this.touch.knobY = this.touch.originY + dy * scale;
      } else if (event.pointerId === this.aimTouchId) {
        this.setPointer(event);
        this.touch.fireX = this.pointerX;
        this.touch.fireY = this.pointerY;
      }
      return;
    }
    this.setPointer(event);
  }

  /** @param {PointerEvent} event */
  onPointerUp(event) {
    if (event.pointerType === 'touch') {
      if (event.pointerId === this.stickId) {
        this.stickId = null;
        this.stickButtons = 0;
        this.touch.stickActive = false;
      } else if (event.pointerId === this.aimTouchId) {
        this.aimTouchId = null;
        this.touch.firing = false;
      }
    } else if (event.button === 0) {
      this.mouseFiring = false;
    }
  }

  /** @param {PointerEvent} event */
  setPointer(event) {
    const rect = this.surface.getBoundingClientRect();
    this.pointerX = event.clientX - rect.left;
    this.pointerY = event.clientY - rect.top;
    this.hasPointer = true;
  }
}

/**
 * Eight-way buttons from a joystick drag.
 * @param {number} dx
 * @param {number} dy
 */
function stickToButtons(dx, dy) {
  const length = Math.hypot(dx, dy);
  if (length < JOYSTICK_DEAD_ZONE) return 0;
  const cx = dx / length;
  const cy = dy / length;
  let buttons = 0;
  if (cx > JOYSTICK_AXIS_COS) buttons |= Buttons.RIGHT;
  if (cx < -JOYSTICK_AXIS_COS) buttons |= Buttons.LEFT;
  if (cy > JOYSTICK_AXIS_COS) buttons |= Buttons.DOWN;
  if (cy < -JOYSTICK_AXIS_COS) buttons |= Buttons.UP;
  return buttons;
}

/** @param {KeyboardEvent} event */
function isTyping(event) {
  const element = /** @type {HTMLElement | null} */ (event.target);
  if (!element) return false;
  return element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName);
}

/** @param {Event} event */
function preventDefault(event) {
  event.preventDefault();
}
