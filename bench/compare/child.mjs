// The child side of the harness's IPC: a process that serves `commands` to its parent (each
// `{id, cmd, …}` answered `{id, …reply}` or `{id, error}`; one without an id, told and not asked,
// answered nothing) and exits when its parent goes.

/** Serves `commands` (name → function of the command, returning the reply or its promise), each after `prepare()`. */
export function serve(commands, prepare = () => undefined) {
  process.on('message', async (command) => {
    try {
      await prepare();
      const reply = await commands[command.cmd](command);
      if (command.id !== undefined) process.send({ id: command.id, ...reply });
    } catch (error) {
      if (command.id !== undefined) process.send({ id: command.id, error: error.stack ?? String(error) });
      else console.error(error);
    }
  });
  // Orphaned by its parent: nothing left to drive.
  process.on('disconnect', () => process.exit(0));
}
