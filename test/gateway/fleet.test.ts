// The fleet scenario at the CI size, 20 BMCs (60 processes: bus, daemon and web each, from
// the bundle), with a time cap for the whole run on this 2-core machine (see fleet-scenario.ts;
// 50 BMCs in fleet.long.test.ts and bench/gateway).
import { fleetScenario } from './fleet-scenario.js';

fleetScenario(Number(process.env.VMEDIA_GATEWAY_BMCS ?? 20), {
  timeoutMs: 120_000,
  parallelStarts: 4,
  capMs: 150_000,
});
