// The long-poll registry on its own: one held poll per device, a hard cap, wake/abort/supersede.
import t from 'tap';
import { CommandWaiters } from '../../src/android';

t.test('wake, timeout, supersede, abort and the cap', async (t) => {
  const w = new CommandWaiters(2);
  const a = w.wait('dev-a', 60_000);
  t.equal(w.size, 1);
  t.equal(w.wake('dev-a'), true);
  t.equal(await a, 'woken');
  t.equal(w.size, 0, 'a settled poll is forgotten');
  t.equal(w.wake('dev-a'), false, 'nothing held: nothing woken');

  t.equal(await w.wait('dev-a', 1), 'timeout');

  const first = w.wait('dev-b', 60_000);
  const second = w.wait('dev-b', 60_000);
  t.equal(await first, 'superseded', 'a newer poll from the same device replaces the older one');
  t.equal(w.size, 1);

  const c = w.wait('dev-c', 60_000);
  t.equal(await w.wait('dev-d', 60_000), 'full', 'past the cap the answer is immediate');
  t.equal(w.size, 2);
  const renewed = w.wait('dev-c', 60_000);
  t.equal(await c, 'superseded', 'a device already holding a slot may renew it at the cap');

  const ac = new AbortController();
  const gone = w.wait('dev-e', 60_000, [ac.signal]);
  t.equal(await gone, 'full');
  w.abortAll();
  t.equal(await second, 'aborted');
  t.equal(await renewed, 'aborted');
  t.equal(w.size, 0);
  const held = w.wait('dev-f', 60_000, [ac.signal]);
  ac.abort();
  t.equal(await held, 'aborted', 'the client going away ends the poll');
  t.equal(await w.wait('dev-g', 60_000, [ac.signal]), 'aborted', 'an already aborted signal answers at once');
  t.equal(w.peakSize, 2);
});

t.test('memory stays bounded: 20,000 polls held and released', async (t) => {
  const w = new CommandWaiters(20_000);
  const polls = Array.from({ length: 20_000 }, (_, i) => w.wait(`dev-${i}`, 60_000));
  t.equal(w.size, 20_000);
  t.equal(await w.wait('one-more', 60_000), 'full');
  for (let i = 0; i < 20_000; i++) w.wake(`dev-${i}`);
  const outcomes = await Promise.all(polls);
  t.ok(outcomes.every((o) => o === 'woken'));
  t.equal(w.size, 0);
});
