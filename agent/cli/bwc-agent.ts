// The daemon loads only what it runs: on a handheld every megabyte of
// resident memory counts, and the other commands bring the simulator, the
// embedded broker, JPEG encoding and the technician tools with them.
if (process.argv[2] === 'run') {
  const [{ Command }, { registerRunCommand }, { runProgram }, { AGENT_VERSION }] = await Promise.all([
    import('commander'),
    import('./commands/run.js'),
    import('../../common/cli-kit.js'),
    import('../../common/version.js'),
  ]);
  const program = new Command('bwc-agent').version(AGENT_VERSION);
  registerRunCommand(program);
  await runProgram(program, process.argv);
} else {
  const { runAgentCli } = await import('./main.js');
  await runAgentCli(process.argv);
}
