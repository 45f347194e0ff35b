export { clipClientString } from './clip.js';
export * from './json-decode.js';
