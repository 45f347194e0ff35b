import { GatewayRouter } from './gateway-router.js';

describe('GatewayRouter', () => {
  const router = new GatewayRouter();
  // Registered in an order that would be wrong if precedence were positional.
  router.add({
    gateway: 'notify',
    paths: ['/ws/:clientId', '/ws'],
    paramPatterns: { clientId: '[A-Za-z0-9_.-]{1,64}' },
  });
  router.add({ gateway: 'chat', paths: ['/api/v1/ws/connect'] });
  router.add({
    gateway: 'scheduler',
    paths: ['/ws/experiments/:experimentId', '/ws/tasks/:taskId', '/ws/projects/:projectId', '/ws/user'],
  });
  router.add({ gateway: 'checkpoint', paths: ['/ws/checkpoints'] });

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
    '/ws/experiments/',
    '/ws/tasks',
    '/ws/projects',
    '/ws/a/b',
    `/ws/${'x'.repeat(65)}`,
    '/ws/bad%20id',
  ])('matches nothing for %s', (path) => {
    expect(router.match(path)).toBeUndefined();
  });

  it('serves only the gateways registered so far', () => {
    const chatOnly = new GatewayRouter();
    chatOnly.add({ gateway: 'chat', paths: ['/api/v1/ws/connect'] });
    expect(chatOnly.match('/ws/user')).toBeUndefined();
    expect(chatOnly.match('/api/v1/ws/connect')?.gateway).toBe('chat');
  });
});
