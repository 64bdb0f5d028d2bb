import { cronToWords } from './cron-words';

describe('cronToWords', () => {
  it.each([
    ['* * * * *', 'Every minute'],
    ['* * * * * *', 'Every second'],
    ['*/10 * * * * *', 'Every 10 seconds'],
    ['*/5 * * * *', 'Every 5 minutes'],
    ['*/1 * * * *', 'Every minute'],
    ['30 * * * * *', 'Every minute at second 30'],
    ['0 * * * *', 'Every hour at :00'],
    ['15,45 * * * *', 'Every hour at :15 and :45'],
    ['0 */2 * * *', 'Every 2 hours at :00'],
    ['0 9-17 * * *', 'Every hour from 09:00 to 17:00'],
    ['*/15 9-17 * * 1-5', 'Every 15 minutes from 09:00 to 17:59, Monday to Friday'],
    ['0 9 * * *', 'Every day at 09:00'],
    ['30 14 * * *', 'Every day at 14:30'],
    ['0 9,17 * * *', 'Every day at 09:00 and 17:00'],
    ['0 9 * * 1-5', 'At 09:00, Monday to Friday'],
    ['0 9 * * MON-FRI', 'At 09:00, Monday to Friday'],
    ['0 9 * * mon,wed,fri', 'At 09:00 on Monday, Wednesday and Friday'],
    ['0 9 * * 1,2,3,4,5', 'At 09:00 on weekdays'],
    ['0 10 * * 6,0', 'At 10:00 on weekends'],
    ['0 0 * * 0', 'At 00:00 every Sunday'],
    ['0 0 * * 7', 'At 00:00 every Sunday'],
    ['0 0 1 * *', 'At 00:00 on day 1 of the month'],
    ['0 0 1,15 * *', 'At 00:00 on days 1 and 15 of the month'],
    ['0 0 1 1 *', 'At 00:00 on 1 January'],
    ['0 0 25 DEC ?', 'At 00:00 on 25 December'],
    ['0 6 * 1,7 *', 'At 06:00 every day in January and July'],
    ['0 6 1 * 1', 'At 06:00 on day 1 of the month or every Monday'],
    ['0 0 12 * * *', 'Every day at 12:00'],
    ['5 0 12 * * *', 'Every day at 12:00:05'],
    ['@daily', 'Every day at 00:00'],
    ['@hourly', 'Every hour at :00'],
    ['@weekly', 'At 00:00 every Sunday'],
    ['@yearly', 'At 00:00 on 1 January'],
    ['@every 90s', 'Every 90 seconds'],
    ['@every 1h30m', 'Every 1 hour 30 minutes'],
  ])('%s → %s', (expr, words) => {
    expect(cronToWords(expr)).toBe(words);
  });

  it.each(['', '1-10/2 * * * *', '* 5 * * * *', '0 0 */2 * *', '0 0 L * *', 'bogus', '@every soon', '0 0 30-2 * *'])(
    'gives up on %j',
    (expr) => {
      expect(cronToWords(expr)).toBeNull();
    },
  );
});
