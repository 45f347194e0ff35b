// Scenario `scheduler`: task events routed to the subscribers of a task, its experiment and its
// project (a third of the connections on each), on every server: the app publishes with
// SchedulerPublisher.taskProgress (routed to task + experiment + project, each connection once),
// Socket.IO with io.to([task, experiment, project]), bare `ws` over the three Sets, deduplicated.
// Knobs: SCHEDULER_SUBSCRIBERS (3,000; BENCH_QUICK: 300), BURST_EVENTS, PACED_EVENTS.
import { KINDS, QUICK } from '../harness.mjs';
import { NAMES } from '../report.mjs';
import { broadcastTables, measureBroadcast } from './broadcast.mjs';
import { BURST_EVENTS, PACED_EVENTS } from './fanout.mjs';

const SUBSCRIBERS = Number(process.env.SCHEDULER_SUBSCRIBERS ?? (QUICK ? 300 : 3000));
const TASK = { taskId: 'task-7', experimentId: 'exp-3', projectId: 'proj-1' };

/** Where a subscriber of each kind subscribes: the app's scheduler paths, the peers' rooms. */
const TARGETS = {
  app: [`/ws/tasks/${TASK.taskId}`, `/ws/experiments/${TASK.experimentId}`, `/ws/projects/${TASK.projectId}`],
  peer: [`task:${TASK.taskId}`, `experiment:${TASK.experimentId}`, `project:${TASK.projectId}`],
};

export default {
  name: 'scheduler',
  async run() {
    const results = [];
    for (const kind of KINDS) {
      const label = `scheduler ${NAMES[kind]} ×${SUBSCRIBERS}`;
      const measured = await measureBroadcast({
        label,
        kind,
        subscribers: SUBSCRIBERS,
        targets: kind === 'app' ? TARGETS.app : TARGETS.peer,
        gateway: 'scheduler',
        eventType: 'task_progress',
        target: { task: TASK },
        burst: BURST_EVENTS,
        paced: PACED_EVENTS,
      });
      results.push({ kind, ...measured });
      console.log(label, JSON.stringify(measured));
    }
    return [
      '## 4. Scheduler routing: task + experiment + project',
      '',
      `${SUBSCRIBERS} connections, a third each on task \`${TASK.taskId}\`, experiment \`${TASK.experimentId}\` and ` +
        `project \`${TASK.projectId}\`; \`task_progress\` events of the task (this app: \`SchedulerPublisher.taskProgress\`, ` +
        'routed to the three resources, each connection once, with positions in each stream; Socket.IO: ' +
        '`io.to([task, experiment, project]).emit`; bare `ws`: the three Sets, deduplicated with a Set per event). ' +
        `${BURST_EVENTS} events back to back, then ${PACED_EVENTS} one at a time.`,
      '',
      ...broadcastTables('subscribers', () => SUBSCRIBERS, results),
    ];
  },
};
