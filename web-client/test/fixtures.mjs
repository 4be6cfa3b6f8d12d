/**
 * Shared test fixtures: the game's parameters at 30 Hz, read from the movement vectors that the
 * Rust side generates (`tests/vectors/movement_v1.json`), so the JS tests use the server's own
 * numbers instead of a copy of them.
 */
import { readFileSync } from 'node:fs';

const MOVEMENT_VECTORS = new URL('../../tests/vectors/movement_v1.json', import.meta.url);

/** @type {Record<string, number>} `GameParams` as the server sends it in `Welcome` at 30 Hz. */
export const PARAMS = Object.freeze(JSON.parse(readFileSync(MOVEMENT_VECTORS, 'utf8')).params);
