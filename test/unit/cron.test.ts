import { cronProblem } from '../../src/domain/notebooks';

const FIELD_COUNT = 'must have five fields, or six with seconds first';

describe('cronProblem: a scheduleExecution the scheduler can read (UTC; five fields, or six with seconds first)', () => {
  test.each<{ name: string; given: string }>([
    { name: 'five fields', given: '0 2 * * *' },
    { name: 'six fields, seconds first', given: '*/2 * * * * *' },
    { name: 'a day-of-week range by name', given: '0 2 * * MON-FRI' },
    { name: 'surrounding spaces', given: '  0 2 * * *  ' },
  ])('$name is valid: $given', ({ given }) => {
    expect(cronProblem(given)).toBeNull();
  });

  test.each<{ name: string; given: string }>([
    { name: 'words', given: 'every night' },
    { name: 'a macro', given: '@daily' },
    { name: 'seven fields', given: '0 0 2 * * * 2026' },
    { name: 'nothing', given: '' },
  ])('$name has the wrong number of fields: "$given"', ({ given }) => {
    expect(cronProblem(given)).toBe(FIELD_COUNT);
  });

  test.each<{ name: string; given: string; want: string }>([
    { name: 'minute 61', given: '61 * * * *', want: 'Constraint error, got value 61 expected range 0-59' },
    { name: 'hour 24', given: '0 24 * * *', want: 'Constraint error, got value 24 expected range 0-23' },
    { name: 'day of week 8', given: '0 2 * * 8', want: 'Constraint error, got value 8 expected range 0-7' },
    { name: 'the 31st of February', given: '0 0 31 2 *', want: 'Invalid explicit day of month definition' },
    { name: 'L for the minute', given: 'L * * * *', want: 'Invalid characters, got value: L' },
  ])('$name is not a valid cron expression: $given', ({ given, want }) => {
    expect(cronProblem(given)).toBe(`is not a valid cron expression: ${want}`);
  });
});
