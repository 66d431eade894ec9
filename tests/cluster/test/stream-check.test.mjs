// The stream check the cluster tests rely on must itself catch what it is there to catch: a
// skipped offset, a repeated one, a recovery that does not continue the position. (No cluster.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStream } from '../lib/clients.mjs';

const sub = (offset, extra = {}) => ({ kind: 'sub', wasRecovering: false, recovered: false, epoch: 'e1', offset, count: 0, conn: 1, ...extra });
const pub = (offset, conn = 1) => ({ kind: 'pub', offset, conn });

test('the stream check accepts contiguous offsets, a recovery that continues them, and an announced gap', () => {
  const ok = checkStream([
    sub(0), pub(1), pub(2),
    { kind: 'unsub', code: 2500, conn: 1 },
    sub(4, { wasRecovering: true, recovered: true, count: 2, conn: 2 }), pub(3, 2), pub(4, 2), pub(5, 2),
    sub(1, { wasRecovering: true, recovered: false, epoch: 'e2', conn: 3 }), pub(2, 3),
  ]);
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.offsets, [1, 2, 3, 4, 5, 2]);
  assert.equal(ok.announcedGaps, 1);
  assert.equal(ok.position, 2);
  assert.equal(ok.epoch, 'e2');
});

test('the stream check reports a silent gap, a duplicate, a recovery from the wrong position and a publication outside a subscription', () => {
  assert.match(checkStream([sub(0), pub(1), pub(3)]).problems.join(), /silent gap: 3 after 1/);
  assert.match(checkStream([sub(0), pub(1), pub(2), pub(2)]).problems.join(), /2 again or out of order/);
  assert.match(checkStream([sub(0), pub(1), sub(5, { wasRecovering: true, recovered: true, count: 2 })]).problems.join(), /but the client was at 1/);
  assert.match(checkStream([sub(0), pub(1), sub(1, { wasRecovering: true, recovered: true, epoch: 'e2' })]).problems.join(), /another epoch/);
  assert.match(checkStream([pub(1)]).problems.join(), /outside a subscription/);
  assert.match(checkStream([sub(0), { kind: 'unsub', code: 2000, conn: 1 }, pub(1)]).problems.join(), /outside a subscription/);
});
