// 200 mount/unmount cycles per mode (npm run test:long): the same checks as soak.test.ts, with
// the tighter per-cycle bounds a run past V8's warm-up allows (helpers/soak.ts).
import { defineSoak } from './helpers/soak.js';

defineSoak(200);
