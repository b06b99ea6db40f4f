#!/usr/bin/env node
// The `fender` executable: the agent's data plane (agent/) with its control
// API (control/) attached. agent/ never imports control/; this file is where
// the two meet.
import { runFender } from '../agent/main.ts';
import { startControlServer } from '../control/api.ts';

const code = await runFender(process.argv.slice(2), (agent, snapshot, logger) =>
  startControlServer({
    host: snapshot.listeners.control.host,
    port: snapshot.listeners.control.port,
    agent,
    logger,
    ...(snapshot.listeners.control.tokenFile === undefined
      ? {}
      : { tokenFile: snapshot.listeners.control.tokenFile }),
  }),
);
// Pending async log writes and closed sockets let the loop end by itself;
// exit explicitly so a lingering timer cannot hold the process.
process.exit(code);
