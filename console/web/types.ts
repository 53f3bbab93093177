/** What the server pushes: one definition for both sides (console/fleet/fleet-view.ts). */
export type { Alarm, DeviceView } from '../fleet/fleet-view.js';
