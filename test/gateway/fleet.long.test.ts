// The fleet scenario at the benchmark's size, 50 BMCs (150 processes), for `npm run test:long`.
import { fleetScenario } from './fleet-scenario.js';

fleetScenario(Number(process.env.VMEDIA_GATEWAY_BMCS ?? 50), {
  timeoutMs: 600_000,
  parallelStarts: 4,
  capMs: 900_000,
});
