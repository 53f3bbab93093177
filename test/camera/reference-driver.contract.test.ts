import { cameraDriverContract } from './camera-driver.contract.js';
import { IDENTITY, openRig } from './camera-rig.js';

// The reference driver against the simulated camera over a real pseudo-terminal pair.
cameraDriverContract('reference driver over a pty', async (t) => {
  const rig = await openRig(t);
  return {
    driver: rig.driver,
    identity: IDENTITY,
    setRecording: (s) => rig.sim.setRecording(s),
    pressSos: () => rig.sim.pressSos(),
    tamper: () => rig.sim.tamper(),
    alerts: () => rig.sim.alerts,
    settings: () => rig.sim.settings,
  };
});
