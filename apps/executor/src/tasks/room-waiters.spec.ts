import { RoomWaiters } from './room-waiters';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('RoomWaiters', () => {
  it('wakes the oldest waiter once for slots freed in one go, the next on passOn', async () => {
    const room = new RoomWaiters();
    const woken: string[] = [];
    void room.wait(5000).then((w) => woken.push(`a:${w}`));
    void room.wait(5000).then((w) => woken.push(`b:${w}`));
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

  it('lets a waiter woken before wait again at the front', async () => {
    const room = new RoomWaiters();
    const woken: string[] = [];
    void room.wait(5000).then((w) => woken.push(`b:${w}`));
    void room.wait(5000, true).then((w) => woken.push(`a:${w}`));
    room.freed();
    await nextTurn();
    await nextTurn();
    expect(woken).toEqual(['a:true']);
    room.passOn();
    await nextTurn();
    expect(woken).toEqual(['a:true', 'b:true']);
  });

  it('answers false when the time passes first, and leaves the queue', async () => {
    const room = new RoomWaiters();
    expect(await room.wait(20)).toBe(false);
    expect(room.size).toBe(0);
    room.freed(); // nobody waits: nothing happens
    await nextTurn();
    expect(room.size).toBe(0);
  });
});
