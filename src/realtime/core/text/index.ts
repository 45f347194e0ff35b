export * from './clip.js';
export * from './json-decode.js';
