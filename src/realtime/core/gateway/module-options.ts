/**
 * The options given to `RealtimeModule.forRoot`, as the host gave them: the core reads them only
 * as an `object`, and each gateway reads its own section (`options.chat`, `options.checkpoint`…),
 * so that the core knows no gateway's options type.
 */
export const REALTIME_MODULE_OPTIONS = Symbol('REALTIME_MODULE_OPTIONS');
