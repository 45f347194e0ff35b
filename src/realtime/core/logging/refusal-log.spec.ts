import { jest } from '@jest/globals';
import { LifecycleLog } from './lifecycle-log.js';
import { RefusalLog } from './refusal-log.js';

describe('RefusalLog', () => {
  let security: jest.Spied<LifecycleLog['security']>;
  let log: RefusalLog;

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const lifecycle = new LifecycleLog();
    security = jest.spyOn(lifecycle, 'security').mockImplementation(() => undefined);
    log = new RefusalLog(lifecycle);
  });
  afterEach(() => {
    log.close();
    jest.useRealTimers();
  });

  it('writes one line per address and kind a second, and the rest of the second as that kind’s summary', () => {
    for (let i = 0; i < 5; i++) log.refused('auth_failed', '10.0.0.1', { gateway: 'chat' });
    log.refused('access_refused', '10.0.0.1', { gateway: 'scheduler', user: 'outsider' });
    log.refused('auth_failed', '10.0.0.2', { gateway: 'chat' });
    jest.advanceTimersByTime(1000);

    expect(security.mock.calls).toEqual([
      ['auth_failed', { gateway: 'chat', ip: '10.0.0.1', also_refused: undefined }],
      ['access_refused', { gateway: 'scheduler', user: 'outsider', ip: '10.0.0.1', also_refused: undefined }],
      ['auth_failed', { gateway: 'chat', ip: '10.0.0.2', also_refused: undefined }],
      ['auth_failed_summary', { ip: '10.0.0.1', also_refused: 4 }],
    ]);
  });
});
