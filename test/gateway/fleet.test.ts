// The fleet scenario at the CI size, 20 BMCs (60 processes: bus, daemon and web each, from
// the bundle), with a time cap for the whole run on 2 cores (see fleet-scenario.ts; 50 BMCs in
// fleet.long.test.ts and bench/gateway). It costs about 160 CPU-s, so 80 s at the least on two idle
// cores; the cap leaves room for a shared machine and stays under scripts/test.sh's 300 s a file.
import { fleetScenario } from './fleet-scenario.js';

fleetScenario(Number(process.env.VMEDIA_GATEWAY_BMCS ?? 20), {
  timeoutMs: 120_000,
  parallelStarts: 4,
  capMs: 240_000,
});
