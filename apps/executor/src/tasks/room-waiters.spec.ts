import { MAX_ROOM_WAITERS, RoomWaiters } from './room-waiters';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('RoomWaiters', () => {
  it('wakes the oldest waiter once for slots freed in one go, the next on passOn', async () => {
    const room = new RoomWaiters();
    const woken: string[] = [];
    void room.wait(5000, room.ticket()).then((w) => woken.push(`a:${w}`));
    void room.wait(5000, room.ticket()).then((w) => woken.push(`b:${w}`));
    room.freed();
    room.freed();
    room.freed();
    await nextTurn();
    await nextTurn();
    expect(woken).toEqual(['a:true']);
    room.passOn();
    await nextTurn();
    expect(woken).toEqual(['a:true', 'b:true']);
    expect(room.size).toBe(0);
  });

  it('keeps the order calls came in when woken ones wait again', async () => {
    const room = new RoomWaiters();
    const [a, b, c] = [room.ticket(), room.ticket(), room.ticket()];
    const woken: string[] = [];
    const waitAs = (name: string, order: number) =>
      void room.wait(5000, order).then((w) => woken.push(`${name}:${w}`));
    waitAs('c', c);
    // a and b were woken earlier and wait again, b first: each goes back to its place, ahead of c.
    waitAs('b', b);
    waitAs('a', a);
    room.freed();
    await nextTurn();
    await nextTurn();
    room.passOn();
    await nextTurn();
    room.passOn();
    await nextTurn();
    expect(woken).toEqual(['a:true', 'b:true', 'c:true']);
  });

  it('answers false when the time passes first, and leaves the queue', async () => {
    const room = new RoomWaiters();
    expect(await room.wait(20, room.ticket())).toBe(false);
    expect(room.size).toBe(0);
    room.freed(); // nobody waits: nothing happens
    await nextTurn();
    expect(room.size).toBe(0);
  });

  it('counts every freeing, with or without a waiter', () => {
    const room = new RoomWaiters();
    const before = room.generation;
    room.freed();
    room.freed();
    expect(room.generation).toBe(before + 2);
  });

  it(`holds at most ${MAX_ROOM_WAITERS} calls: the next is answered false at once`, async () => {
    const room = new RoomWaiters();
    for (let i = 0; i < MAX_ROOM_WAITERS; i++) void room.wait(5000, room.ticket());
    expect(room.size).toBe(MAX_ROOM_WAITERS);
    expect(await room.wait(5000, room.ticket())).toBe(false);
    expect(room.size).toBe(MAX_ROOM_WAITERS);
    for (let i = 0; i < MAX_ROOM_WAITERS; i++) room.passOn();
    await nextTurn();
    expect(room.size).toBe(0);
  });
});
