import { GatewayRouter } from './gateway-routes.js';

describe('GatewayRouter', () => {
  const router = new GatewayRouter();

  it.each([
    ['/api/v1/ws/connect', 'chat', {}],
    ['/ws/experiments/exp-123', 'scheduler', { experimentId: 'exp-123' }],
    ['/ws/tasks/task-456', 'scheduler', { taskId: 'task-456' }],
    ['/ws/projects/proj-1', 'scheduler', { projectId: 'proj-1' }],
    ['/ws/user', 'scheduler', {}],
    ['/ws/checkpoints', 'checkpoint', {}],
    ['/ws', 'notify', {}],
    ['/ws/client-123', 'notify', { clientId: 'client-123' }],
    ['/ws/a.b_c-D', 'notify', { clientId: 'a.b_c-D' }],
  ])('routes %s to %s', (path, gateway, params) => {
    expect(router.match(path)).toMatchObject({ gateway, params });
  });

  it('lets fixed paths win over /ws/:clientId', () => {
    expect(router.match('/ws/user')?.gateway).toBe('scheduler');
    expect(router.match('/ws/checkpoints')?.gateway).toBe('checkpoint');
  });

  it.each([
    '/',
    '/api/v1/ws',
    '/api/v1/ws/connect/x',
    '/ws/experiments',
    '/ws/a/b',
    `/ws/${'x'.repeat(65)}`,
    '/ws/bad%20id',
  ])('matches nothing for %s', (path) => {
    expect(router.match(path)).toBeUndefined();
  });
});
